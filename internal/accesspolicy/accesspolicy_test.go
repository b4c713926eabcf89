package accesspolicy

import "testing"

func TestAllows(t *testing.T) {
	pods := func(verb, ns string) Request {
		return Request{ResourceRequest: true, Verb: verb, Resource: "pods", Namespace: ns}
	}
	secrets := Request{ResourceRequest: true, Verb: "get", Resource: "secrets", Namespace: "dev"}
	nodes := Request{ResourceRequest: true, Verb: "list", Resource: "nodes"}
	logs := Request{ResourceRequest: true, Verb: "get", Resource: "pods", Subresource: "log", Namespace: "dev"}
	exec := Request{ResourceRequest: true, Verb: "create", Resource: "pods", Subresource: "exec", Namespace: "dev"}
	healthz := Request{Verb: "get", Path: "/healthz"}
	tests := []struct {
		policy     string
		namespaces []string
		req        Request
		want       bool
	}{
		{"AmazonEKSClusterAdminPolicy", nil, nodes, true},
		{"AmazonEKSClusterAdminPolicy", nil, healthz, true},
		{"AmazonEKSClusterAdminPolicy", []string{"dev"}, nodes, false},
		{"AmazonEKSClusterAdminPolicy", []string{"dev"}, pods("delete", "dev"), true},
		{"AmazonEKSClusterAdminPolicy", []string{"dev-*"}, pods("delete", "dev-a"), true},
		{"AmazonEKSClusterAdminPolicy", []string{"dev-*"}, pods("delete", "prod"), false},
		{"AmazonEKSViewPolicy", nil, pods("list", "any"), true},
		{"AmazonEKSViewPolicy", nil, pods("delete", "any"), false},
		{"AmazonEKSViewPolicy", nil, secrets, false},
		{"AmazonEKSViewPolicy", nil, logs, true},
		{"AmazonEKSViewPolicy", nil, nodes, false},
		{"AmazonEKSAdminViewPolicy", nil, secrets, true},
		{"AmazonEKSAdminViewPolicy", nil, nodes, true},
		{"AmazonEKSAdminViewPolicy", nil, pods("delete", "x"), false},
		{"AmazonEKSEditPolicy", nil, pods("delete", "x"), true},
		{"AmazonEKSEditPolicy", nil, exec, true},
		{"AmazonEKSEditPolicy", nil, Request{ResourceRequest: true, Verb: "create", APIGroup: "rbac.authorization.k8s.io", Resource: "roles", Namespace: "x"}, false},
		{"AmazonEKSAdminPolicy", nil, Request{ResourceRequest: true, Verb: "create", APIGroup: "rbac.authorization.k8s.io", Resource: "roles", Namespace: "x"}, true},
		{"AmazonEKSAdminPolicy", nil, nodes, false},
		{"NoSuchPolicy", nil, pods("get", "x"), false},
	}
	for _, tt := range tests {
		if got := Allows(tt.policy, tt.namespaces, tt.req); got != tt.want {
			t.Errorf("Allows(%s, %v, %+v) = %v, want %v", tt.policy, tt.namespaces, tt.req, got, tt.want)
		}
	}
}
