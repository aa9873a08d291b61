// Command terraform-provider-yandex (stand-in) serves, over the plugin protocol v6, the provider
// schema read from the JSON file named by YANDEX_SCHEMA_STANDIN_FILE (a `terraform providers schema
// -json` document). Terraform core checks a configuration against that schema (arguments, types,
// required/optional, block counts); the real provider's own validation functions are not run.
// It answers only the calls `terraform validate` makes; every other call fails with a clear error.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"sort"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

const schemaEnv = "YANDEX_SCHEMA_STANDIN_FILE"

// JSON shapes of `terraform providers schema -json`.
type jsonSchema struct {
	Version int64     `json:"version"`
	Block   jsonBlock `json:"block"`
}

type jsonBlock struct {
	Attributes      map[string]jsonAttribute   `json:"attributes"`
	BlockTypes      map[string]jsonNestedBlock `json:"block_types"`
	Description     string                     `json:"description"`
	DescriptionKind string                     `json:"description_kind"`
	Deprecated      bool                       `json:"deprecated"`
}

type jsonAttribute struct {
	Type            json.RawMessage `json:"type"`
	NestedType      *jsonObject     `json:"nested_type"`
	Description     string          `json:"description"`
	DescriptionKind string          `json:"description_kind"`
	Required        bool            `json:"required"`
	Optional        bool            `json:"optional"`
	Computed        bool            `json:"computed"`
	Sensitive       bool            `json:"sensitive"`
	Deprecated      bool            `json:"deprecated"`
}

type jsonObject struct {
	Attributes  map[string]jsonAttribute `json:"attributes"`
	NestingMode string                   `json:"nesting_mode"`
}

type jsonNestedBlock struct {
	NestingMode string    `json:"nesting_mode"`
	Block       jsonBlock `json:"block"`
	MinItems    int64     `json:"min_items"`
	MaxItems    int64     `json:"max_items"`
}

type jsonProvider struct {
	Provider          jsonSchema            `json:"provider"`
	ResourceSchemas   map[string]jsonSchema `json:"resource_schemas"`
	DataSourceSchemas map[string]jsonSchema `json:"data_source_schemas"`
}

type jsonDocument struct {
	ProviderSchemas map[string]jsonProvider `json:"provider_schemas"`
}

var blockNesting = map[string]tfprotov6.SchemaNestedBlockNestingMode{
	"single": tfprotov6.SchemaNestedBlockNestingModeSingle,
	"list":   tfprotov6.SchemaNestedBlockNestingModeList,
	"set":    tfprotov6.SchemaNestedBlockNestingModeSet,
	"map":    tfprotov6.SchemaNestedBlockNestingModeMap,
	"group":  tfprotov6.SchemaNestedBlockNestingModeGroup,
}

var objectNesting = map[string]tfprotov6.SchemaObjectNestingMode{
	"single": tfprotov6.SchemaObjectNestingModeSingle,
	"list":   tfprotov6.SchemaObjectNestingModeList,
	"set":    tfprotov6.SchemaObjectNestingModeSet,
	"map":    tfprotov6.SchemaObjectNestingModeMap,
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func convertAttributes(attrs map[string]jsonAttribute, path string) ([]*tfprotov6.SchemaAttribute, error) {
	var out []*tfprotov6.SchemaAttribute
	for _, name := range sortedKeys(attrs) {
		a := attrs[name]
		attr := &tfprotov6.SchemaAttribute{
			Name: name, Required: a.Required, Optional: a.Optional, Computed: a.Computed,
			Sensitive: a.Sensitive, Deprecated: a.Deprecated, Description: a.Description,
		}
		switch {
		case a.NestedType != nil:
			nested, err := convertAttributes(a.NestedType.Attributes, path+"."+name)
			if err != nil {
				return nil, err
			}
			mode, ok := objectNesting[a.NestedType.NestingMode]
			if !ok {
				return nil, fmt.Errorf("%s.%s: unknown nesting_mode %q", path, name, a.NestedType.NestingMode)
			}
			attr.NestedType = &tfprotov6.SchemaObject{Attributes: nested, Nesting: mode}
		case len(a.Type) > 0:
			t, err := tftypes.ParseJSONType(a.Type) //nolint:staticcheck // the documented cty JSON form
			if err != nil {
				return nil, fmt.Errorf("%s.%s: type %s: %w", path, name, a.Type, err)
			}
			attr.Type = t
		default:
			return nil, fmt.Errorf("%s.%s: attribute has neither type nor nested_type", path, name)
		}
		out = append(out, attr)
	}
	return out, nil
}

func convertBlock(b jsonBlock, path string) (*tfprotov6.SchemaBlock, error) {
	attrs, err := convertAttributes(b.Attributes, path)
	if err != nil {
		return nil, err
	}
	block := &tfprotov6.SchemaBlock{Attributes: attrs, Description: b.Description, Deprecated: b.Deprecated}
	for _, name := range sortedKeys(b.BlockTypes) {
		nb := b.BlockTypes[name]
		inner, err := convertBlock(nb.Block, path+"."+name)
		if err != nil {
			return nil, err
		}
		mode, ok := blockNesting[nb.NestingMode]
		if !ok {
			return nil, fmt.Errorf("%s.%s: unknown nesting_mode %q", path, name, nb.NestingMode)
		}
		block.BlockTypes = append(block.BlockTypes, &tfprotov6.SchemaNestedBlock{
			TypeName: name, Block: inner, Nesting: mode, MinItems: nb.MinItems, MaxItems: nb.MaxItems,
		})
	}
	return block, nil
}

func convertSchema(s jsonSchema, path string) (*tfprotov6.Schema, error) {
	block, err := convertBlock(s.Block, path)
	if err != nil {
		return nil, err
	}
	return &tfprotov6.Schema{Version: s.Version, Block: block}, nil
}

func convertAll(in map[string]jsonSchema) (map[string]*tfprotov6.Schema, error) {
	out := make(map[string]*tfprotov6.Schema, len(in))
	for name, s := range in {
		converted, err := convertSchema(s, name)
		if err != nil {
			return nil, err
		}
		out[name] = converted
	}
	return out, nil
}

func loadSchema(path string) (*tfprotov6.GetProviderSchemaResponse, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc jsonDocument
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.ProviderSchemas) != 1 {
		return nil, fmt.Errorf("%s: expected exactly one provider, found %d", path, len(doc.ProviderSchemas))
	}
	for _, p := range doc.ProviderSchemas {
		provider, err := convertSchema(p.Provider, "provider")
		if err != nil {
			return nil, err
		}
		resources, err := convertAll(p.ResourceSchemas)
		if err != nil {
			return nil, err
		}
		dataSources, err := convertAll(p.DataSourceSchemas)
		if err != nil {
			return nil, err
		}
		return &tfprotov6.GetProviderSchemaResponse{
			Provider: provider, ResourceSchemas: resources, DataSourceSchemas: dataSources,
			ServerCapabilities: &tfprotov6.ServerCapabilities{},
		}, nil
	}
	panic("unreachable")
}

// standIn implements the validate-time calls. The embedded interface is nil: any other call
// (plan, apply, ...) is a programming error for a stand-in and is refused before it gets there by
// ConfigureProvider, which fails.
type standIn struct {
	tfprotov6.ProviderServer
	schema *tfprotov6.GetProviderSchemaResponse
}

func (s *standIn) GetMetadata(context.Context, *tfprotov6.GetMetadataRequest) (*tfprotov6.GetMetadataResponse, error) {
	resp := &tfprotov6.GetMetadataResponse{ServerCapabilities: s.schema.ServerCapabilities}
	for _, name := range sortedKeys(s.schema.ResourceSchemas) {
		resp.Resources = append(resp.Resources, tfprotov6.ResourceMetadata{TypeName: name})
	}
	for _, name := range sortedKeys(s.schema.DataSourceSchemas) {
		resp.DataSources = append(resp.DataSources, tfprotov6.DataSourceMetadata{TypeName: name})
	}
	return resp, nil
}

func (s *standIn) GetProviderSchema(context.Context, *tfprotov6.GetProviderSchemaRequest) (*tfprotov6.GetProviderSchemaResponse, error) {
	return s.schema, nil
}

func (s *standIn) GetFunctions(context.Context, *tfprotov6.GetFunctionsRequest) (*tfprotov6.GetFunctionsResponse, error) {
	return &tfprotov6.GetFunctionsResponse{}, nil
}

func (s *standIn) ValidateProviderConfig(_ context.Context, req *tfprotov6.ValidateProviderConfigRequest) (*tfprotov6.ValidateProviderConfigResponse, error) {
	return &tfprotov6.ValidateProviderConfigResponse{PreparedConfig: req.Config}, nil
}

func (s *standIn) ValidateResourceConfig(context.Context, *tfprotov6.ValidateResourceConfigRequest) (*tfprotov6.ValidateResourceConfigResponse, error) {
	return &tfprotov6.ValidateResourceConfigResponse{}, nil
}

func (s *standIn) ValidateDataResourceConfig(context.Context, *tfprotov6.ValidateDataResourceConfigRequest) (*tfprotov6.ValidateDataResourceConfigResponse, error) {
	return &tfprotov6.ValidateDataResourceConfigResponse{}, nil
}

func (s *standIn) ConfigureProvider(context.Context, *tfprotov6.ConfigureProviderRequest) (*tfprotov6.ConfigureProviderResponse, error) {
	return &tfprotov6.ConfigureProviderResponse{Diagnostics: []*tfprotov6.Diagnostic{{
		Severity: tfprotov6.DiagnosticSeverityError,
		Summary:  "schema stand-in",
		Detail:   "this is the schema stand-in of terraform-provider-yandex: it supports terraform validate only",
	}}}, nil
}

func (s *standIn) StopProvider(context.Context, *tfprotov6.StopProviderRequest) (*tfprotov6.StopProviderResponse, error) {
	return &tfprotov6.StopProviderResponse{}, nil
}

func main() {
	path := os.Getenv(schemaEnv)
	if path == "" {
		log.Fatalf("%s is not set: it must name the provider schema JSON this stand-in serves", schemaEnv)
	}
	schema, err := loadSchema(path)
	if err != nil {
		log.Fatalf("loading %s=%s: %v", schemaEnv, path, err)
	}
	err = tf6server.Serve("registry.terraform.io/yandex-cloud/yandex", func() tfprotov6.ProviderServer {
		return &standIn{schema: schema}
	})
	if err != nil {
		log.Fatal(err)
	}
}
