//go:build tools

// Package tools pins the main package `npm run lab:tools -- --toolset coredns` builds, so that
// go mod tidy keeps every module it needs in go.sum.
package tools

import (
	_ "github.com/coredns/coredns"
)
