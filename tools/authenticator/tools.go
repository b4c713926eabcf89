//go:build tools

// Package authenticator only records iammap's public packages, which the
// differential tests of this module hold to the authenticator, so that
// `go mod tidy` keeps the requirement of github.com/iammap/iammap.
package authenticator

import (
	_ "github.com/iammap/iammap/awsauth"
	_ "github.com/iammap/iammap/mapping"
)
