package aigw

import (
	"strings"

	"go.opentelemetry.io/otel/attribute"
)

// The attributes every metric carries (spec/metrics.md "Attributes"): bounded by
// the config (alias, route, model, slot), never a request, response or key value.

var (
	// gen_ai.provider.name: the conventions' well-known values, by host then wire API.
	providerByHost = map[string]string{"api.openai.com": "openai", "api.deepseek.com": "deepseek",
		"api.anthropic.com": "anthropic", "api.mistral.ai": "mistral_ai", "api.groq.com": "groq",
		"api.x.ai": "x_ai", "api.perplexity.ai": "perplexity", "api.cohere.com": "cohere",
		"generativelanguage.googleapis.com": "gcp.gemini"}
	providerByAPI = map[string]string{"anthropic": "anthropic", "bedrock": "aws.bedrock",
		"bedrock-api-key": "aws.bedrock"}
)

// providerName is a route's gen_ai.provider.name: a well-known value where one
// applies, else the catalog's provider name.
func providerName(api, host, provider string) string {
	if v, ok := providerByHost[host]; ok {
		return v
	}
	if strings.HasSuffix(host, ".openai.azure.com") {
		return "azure.ai.openai"
	}
	if v, ok := providerByAPI[api]; ok {
		return v
	}
	return provider
}

// baseAttrs are the attributes every instrument carries for a call of key.
func (r *metricsRecorder) baseAttrs(key baseKey) []attribute.KeyValue {
	attrs := []attribute.KeyValue{attribute.String("gen_ai.operation.name", key.operation),
		attribute.String("aigw.service", r.service), attribute.String("aigw.environment", r.environment),
		attribute.String("aigw.alias", key.alias)}
	rs := key.rs
	if rs == nil {
		return attrs
	}
	rt := rs.route
	attrs = append(attrs, attribute.String("gen_ai.provider.name", providerName(rt.API, rs.host, rt.Provider)),
		attribute.String("aigw.provider", rt.Provider), attribute.String("gen_ai.request.model", rt.Model),
		attribute.String("aigw.slot", rt.Slot), attribute.Int("aigw.route", rs.index))
	if rs.host != "" && !(rs.wire != nil && rs.wire.Bedrock() && rt.BaseURL == BedrockBaseURL(rt.AWSRegion)) {
		attrs = append(attrs, attribute.String("server.address", rs.host))
	}
	return attrs
}
