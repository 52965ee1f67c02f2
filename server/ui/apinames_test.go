package ui

import "github.com/vexilhq/vexil/internal/api"

// versionInfo is the name the older tests give a rules version, which the
// pages read as api.VersionInfo.
type versionInfo = api.VersionInfo
