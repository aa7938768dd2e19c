package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"
)

// The deployment files under deploy/ parse, and name what docs/cluster.md
// promises (they cannot be run here: no container engine).
func TestDeployFilesParse(t *testing.T) {
	compose, err := os.ReadFile(filepath.Join("..", "..", "deploy", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Services map[string]any `yaml:"services"`
	}
	if err := yaml.Unmarshal(compose, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, s := range []string{"etcd", "postgres", "redis", "obhub-1", "obhub-2", "lb"} {
		if _, ok := c.Services[s]; !ok {
			t.Errorf("docker-compose.yml has no service %s", s)
		}
	}

	k8s, err := os.ReadFile(filepath.Join("..", "..", "deploy", "kubernetes", "obhub.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	dec := yaml.NewDecoder(bytes.NewReader(k8s))
	for {
		var doc struct {
			Kind string `yaml:"kind"`
			Spec struct {
				Replicas int `yaml:"replicas"`
			} `yaml:"spec"`
		}
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("kubernetes/obhub.yaml: %v", err)
		}
		kinds[doc.Kind]++
		if doc.Kind == "Deployment" && doc.Spec.Replicas != 2 {
			t.Errorf("Deployment replicas = %d, want 2", doc.Spec.Replicas)
		}
	}
	for _, k := range []string{"Deployment", "Service", "ConfigMap"} {
		if kinds[k] == 0 {
			t.Errorf("kubernetes/obhub.yaml has no %s", k)
		}
	}
	for _, s := range []string{"/readyz", "/healthz", "OBHUB_ADMIN_TOKEN", "OBHUB_KEY_ENCRYPTION_KEY", "secretKeyRef"} {
		if !bytes.Contains(k8s, []byte(s)) {
			t.Errorf("kubernetes/obhub.yaml does not mention %s", s)
		}
	}
}
