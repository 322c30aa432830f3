module kumo.dev/bridge

go 1.23
