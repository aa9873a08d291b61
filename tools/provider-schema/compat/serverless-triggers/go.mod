// Build-time substitute for github.com/yandex-cloud/go-sdk/services/serverless/triggers, which the
// Go module proxy reachable here refuses to serve. Only the v2 client symbols that the provider's
// yandex_serverless_trigger resource references exist, and each call fails with a clear error: the
// resource's schema (all we extract) lives in the provider itself and is unaffected.
module github.com/yandex-cloud/go-sdk/services/serverless/triggers

go 1.25.10

require (
	github.com/yandex-cloud/go-genproto v0.112.0
	github.com/yandex-cloud/go-sdk/v2 v2.159.0
	google.golang.org/grpc v1.74.0-dev
	google.golang.org/protobuf v1.36.6
)
