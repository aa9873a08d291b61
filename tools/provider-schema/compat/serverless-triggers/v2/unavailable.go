// Package triggerssdk stands in for the serverless triggers v2 API client in builds of the provider
// made only to read its schema or validate configurations: every API call returns errUnavailable.
package triggerssdk

import (
	"context"
	"errors"

	triggers "github.com/yandex-cloud/go-genproto/yandex/cloud/serverless/triggers/v2"
	"github.com/yandex-cloud/go-sdk/v2/pkg/transport"
	"google.golang.org/grpc"
	emptypb "google.golang.org/protobuf/types/known/emptypb"
)

var errUnavailable = errors.New("serverless triggers v2 API client is not available in this schema/validation build of the provider")

// TriggerClient has the methods the provider calls; none of them reaches the API.
type TriggerClient struct{}

// NewTriggerClient ignores the connector: this build never talks to the triggers API.
func NewTriggerClient(transport.Connector) TriggerClient { return TriggerClient{} }

func (TriggerClient) Get(context.Context, *triggers.GetTriggerRequest, ...grpc.CallOption) (*triggers.Trigger, error) {
	return nil, errUnavailable
}

func (TriggerClient) Create(context.Context, *triggers.CreateTriggerRequest, ...grpc.CallOption) (*TriggerOperation, error) {
	return nil, errUnavailable
}

func (TriggerClient) Update(context.Context, *triggers.UpdateTriggerRequest, ...grpc.CallOption) (*TriggerOperation, error) {
	return nil, errUnavailable
}

func (TriggerClient) Delete(context.Context, *triggers.DeleteTriggerRequest, ...grpc.CallOption) (*DeleteOperation, error) {
	return nil, errUnavailable
}

// TriggerOperation is the long-running create/update operation.
type TriggerOperation struct{}

func (*TriggerOperation) Wait(context.Context, ...grpc.CallOption) (*triggers.Trigger, error) {
	return nil, errUnavailable
}

// DeleteOperation is the long-running delete operation.
type DeleteOperation struct{}

func (*DeleteOperation) Wait(context.Context, ...grpc.CallOption) (*emptypb.Empty, error) {
	return nil, errUnavailable
}
