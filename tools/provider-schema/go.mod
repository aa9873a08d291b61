// Builds the Yandex Cloud Terraform provider from the Go module proxy, so that its real schema can
// be extracted and the synthesized stack validated offline. scripts/provider-mirror.sh builds it
// with a generated copy of this file (-modfile) that adds machine-local source replacements.
module github.com/yc-mlops/tools/provider-schema

go 1.25.10

require github.com/yandex-cloud/terraform-provider-yandex v0.222.0

tool github.com/yandex-cloud/terraform-provider-yandex

// Copied from terraform-provider-yandex v0.222.0's own go.mod: replace directives of a dependency
// are ignored by Go, so without these the build would resolve different modules than upstream's.
replace (
	git.apache.org/thrift.git => github.com/apache/thrift v0.12.0
	github.com/spf13/afero => github.com/spf13/afero v1.2.2
)

// No version of this module is served by the proxy here, and no source we have contains the v2
// client the provider uses: see compat/serverless-triggers/go.mod.
replace github.com/yandex-cloud/go-sdk/services/serverless/triggers => ./compat/serverless-triggers
