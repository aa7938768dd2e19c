package openapi

import "github.com/obhub/obhub/config"

// Spec is what the configuration store keeps of the document: every
// caller that stores an imported document (admin API, console upload,
// demo, tests) builds it here, so none forgets a field.
func (d *Document) Spec() *config.Spec {
	return &config.Spec{Title: d.Title, Version: d.Version, BasePath: d.BasePath, Operations: d.Operations, JSON: d.JSON, Tags: d.Tags}
}
