package awsauth

import (
	"fmt"

	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

// DecodeManifest decodes an aws-auth ConfigMap manifest (YAML or JSON), as
// kept in git or printed by kubectl get -o yaml.
func DecodeManifest(manifest []byte) (*Document, error) {
	// The most common hand-editing mistake is a list where the API server
	// wants a string (mapRoles: without |); name it precisely.
	var probe struct {
		Data map[string]yaml.Node `yaml:"data"`
	}
	if err := yaml.Unmarshal(manifest, &probe); err != nil {
		return nil, fmt.Errorf("aws-auth manifest: %w", err)
	}
	for key, node := range probe.Data {
		if node.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("aws-auth manifest: line %d: data.%s must be a string; write %q followed by an indented YAML list", node.Line, key, key+": |")
		}
	}
	var cm corev1.ConfigMap
	if err := sigsyaml.UnmarshalStrict(manifest, &cm); err != nil {
		return nil, fmt.Errorf("aws-auth manifest: %w", err)
	}
	return Decode(cm.Data), nil
}
