//go:build tools

// Package tools keeps go-containerregistry, which cmd/oci-image uses, in go.sum.
package tools

import (
	_ "github.com/google/go-containerregistry/pkg/v1/tarball"
)
