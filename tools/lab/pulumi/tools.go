//go:build tools

// Package tools pins the main packages `npm run lab:tools` builds.
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
