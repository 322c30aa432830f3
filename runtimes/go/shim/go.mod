module kumo.dev/shim

go 1.23
