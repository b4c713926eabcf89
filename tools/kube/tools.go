//go:build tools

// Package kube only records the commands the local stack builds, so that
// `go mod tidy` keeps their requirements.
package kube

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
