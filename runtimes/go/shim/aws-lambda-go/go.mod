// Kumo's module with the import path of AWS's Lambda Go library, written from AWS's public API
// documentation: kumo-go-build points a function's github.com/aws/aws-lambda-go at it, so code
// written for Lambda builds unmodified and serves Kumo's runtime protocol. The subset: see README.md.
module github.com/aws/aws-lambda-go

go 1.23

require kumo.dev/shim v0.0.0

replace kumo.dev/shim => ../
