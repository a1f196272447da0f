package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// k8sDir is the Kubernetes example.
const k8sDir = "../../deploy/kubernetes"

// k8sObject is the part of a Kubernetes object the test reads.
type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		ClusterIP   string            `yaml:"clusterIP"`
		Selector    yaml.Node         `yaml:"selector"`
		ServiceName string            `yaml:"serviceName"`
		Ports       []k8sPort         `yaml:"ports"`
		Template    *k8sPodTemplate   `yaml:"template"`
		VolumeClaim []yaml.Node       `yaml:"volumeClaimTemplates"`
		Replicas    *int              `yaml:"replicas"`
		Labels      map[string]string `yaml:"labels"`
	} `yaml:"spec"`
	Resources []string `yaml:"resources"`
}

type k8sPort struct {
	Name          string `yaml:"name"`
	Port          int    `yaml:"port"`
	ContainerPort int    `yaml:"containerPort"`
}

type k8sPodTemplate struct {
	Metadata struct {
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec struct {
		TerminationGracePeriodSeconds *int `yaml:"terminationGracePeriodSeconds"`
		Containers                    []struct {
			Resources struct {
				Requests map[string]string `yaml:"requests"`
				Limits   map[string]string `yaml:"limits"`
			} `yaml:"resources"`
			Name           string    `yaml:"name"`
			Image          string    `yaml:"image"`
			Args           []string  `yaml:"args"`
			Ports          []k8sPort `yaml:"ports"`
			ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
			LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
			VolumeMounts   []struct {
				Name      string `yaml:"name"`
				MountPath string `yaml:"mountPath"`
			} `yaml:"volumeMounts"`
		} `yaml:"containers"`
	} `yaml:"spec"`
}

type k8sProbe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

// readK8s decodes every document of every YAML file of the example.
func readK8s(t *testing.T) map[string][]k8sObject {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(k8sDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no YAML files in %s (%v)", k8sDir, err)
	}
	out := map[string][]k8sObject{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var o k8sObject
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if o.APIVersion == "" || o.Kind == "" {
				t.Errorf("%s: a document without apiVersion or kind", f)
			}
			out[filepath.Base(f)] = append(out[filepath.Base(f)], o)
		}
	}
	return out
}

// TestKubernetesExample parses deploy/kubernetes and checks it against
// the binary: each soltix container's arguments, with the ConfigMap's
// soltix.yaml, are a configuration its role accepts; probes name /ready
// and /health on a declared port; Services select the pods; storage
// nodes advertise themselves through their headless Service.
func TestKubernetesExample(t *testing.T) {
	files := readK8s(t)
	var all []k8sObject
	for _, name := range slices.Sorted(maps.Keys(files)) {
		all = append(all, files[name]...)
	}
	byKind := func(kind, name string) *k8sObject {
		for i := range all {
			if all[i].Kind == kind && all[i].Metadata.Name == name {
				return &all[i]
			}
		}
		t.Fatalf("no %s %s in %s", kind, name, k8sDir)
		return nil
	}
	// The kustomization lists every other file.
	kust := files["kustomization.yaml"]
	if len(kust) != 1 {
		t.Fatalf("kustomization.yaml: %d documents", len(kust))
	}
	for name := range files {
		if name != "kustomization.yaml" && !slices.Contains(kust[0].Resources, name) {
			t.Errorf("kustomization.yaml does not list %s", name)
		}
	}

	cm := byKind("ConfigMap", "soltix")
	conf := filepath.Join(t.TempDir(), "soltix.yaml")
	if err := os.WriteFile(conf, []byte(cm.Data["soltix.yaml"]), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		kind, name, role, service string
	}{
		{"StatefulSet", "soltix-storage", "storage", "soltix-storage"},
		{"Deployment", "soltix-router", "router", "soltix"},
	} {
		t.Run(tc.role, func(t *testing.T) {
			o := byKind(tc.kind, tc.name)
			if o.Spec.Template == nil || len(o.Spec.Template.Spec.Containers) != 1 {
				t.Fatalf("%s %s: want a pod template with one container", tc.kind, tc.name)
			}
			c := o.Spec.Template.Spec.Containers[0]
			if len(c.Args) == 0 || c.Args[0] != tc.role {
				t.Fatalf("%s: args %q, want the %s role first", tc.name, c.Args, tc.role)
			}
			// Every flag is one of the role's, and the configuration loads.
			fs, _ := roleFlags(tc.role, func(string) string { return "" })
			vars := strings.NewReplacer("$(POD_NAME)", "soltix-storage-0", "$(POD_NAMESPACE)", "default")
			var args []string
			for _, a := range c.Args[1:] {
				name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
				if !strings.HasPrefix(a, "--") || fs.Lookup(name) == nil {
					t.Errorf("%s: argument %q is not a flag of soltix %s", tc.name, a, tc.role)
				}
				if name == "config" {
					a = "--config=" + conf
				}
				args = append(args, vars.Replace(a))
			}
			cfg, err := loadRoleConfig(tc.role, args, func(string) string { return "" })
			if err != nil {
				t.Fatalf("soltix %s %q: %v", tc.role, args, err)
			}
			// The config file is where the container mounts the ConfigMap.
			mounted := false
			for _, m := range c.VolumeMounts {
				if m.Name == "config" && m.MountPath == "/etc/soltix" {
					mounted = true
				}
			}
			if !mounted {
				t.Errorf("%s: the ConfigMap is not mounted at /etc/soltix", tc.name)
			}
			// Probes on a declared port.
			ports := map[string]int{}
			for _, p := range c.Ports {
				ports[p.Name] = p.ContainerPort
			}
			for _, p := range []struct {
				probe *k8sProbe
				path  string
			}{{c.ReadinessProbe, "/ready"}, {c.LivenessProbe, "/health"}} {
				if p.probe == nil || p.probe.HTTPGet.Path != p.path || ports[p.probe.HTTPGet.Port] == 0 {
					t.Errorf("%s: want an httpGet probe of %s on a declared port, got %+v", tc.name, p.path, p.probe)
				}
			}
			// A graceful stop (requests in flight for up to shutdownTimeout,
			// then a flush) fits in the pod's grace period.
			if g := o.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second < shutdownTimeout+shutdownFlushAllowance {
				t.Errorf("%s: terminationGracePeriodSeconds %v, want at least %s (shutdown %s and a flush)", tc.name, g, shutdownTimeout+shutdownFlushAllowance, shutdownTimeout)
			}
			// Requests: some CPU, and memory for the default soft heap limit
			// (docs/benchmarks.md: peak RSS 372 MiB under it); a memory limit
			// above the request.
			heap := int64(defaultMemoryPoints / 1_000_000 * memoryBytesPerMillionPoints)
			req, lim := c.Resources.Requests, c.Resources.Limits
			if req["cpu"] == "" || k8sBytes(req["memory"]) < heap || k8sBytes(lim["memory"]) < k8sBytes(req["memory"]) {
				t.Errorf("%s: resources requests %v limits %v: want cpu, memory of at least %s (the default soft heap limit), a memory limit above it", tc.name, req, lim, formatSize(heap))
			}
			if _, port, _ := strings.Cut(cfg.Listen, ":"); !slices.Contains(slices.Collect(maps.Values(ports)), atoi(port)) {
				t.Errorf("%s: listens on %s, a port the container does not declare (%v)", tc.name, cfg.Listen, ports)
			}
			// The Service selects these pods.
			svc := byKind("Service", tc.service)
			var sel map[string]string
			if err := svc.Spec.Selector.Decode(&sel); err != nil || len(sel) == 0 {
				t.Fatalf("Service %s: selector: %v", tc.service, err)
			}
			for k, v := range sel {
				if o.Spec.Template.Metadata.Labels[k] != v {
					t.Errorf("Service %s selects %s=%s, which pods of %s do not have", tc.service, k, v, tc.name)
				}
			}
			if tc.role != "storage" {
				return
			}
			// Storage: a stable id and volume per pod, advertised through
			// the headless Service.
			if o.Spec.ServiceName != tc.service || svc.Spec.ClusterIP != "None" {
				t.Errorf("%s: serviceName %q; Service %s clusterIP %q: want a headless Service", tc.name, o.Spec.ServiceName, tc.service, svc.Spec.ClusterIP)
			}
			if len(o.Spec.VolumeClaim) == 0 {
				t.Errorf("%s: no volumeClaimTemplates", tc.name)
			}
			if cfg.Node.ID != "soltix-storage-0" {
				t.Errorf("%s: node id %q, want the pod's name", tc.name, cfg.Node.ID)
			}
			want := regexp.MustCompile(`^http://soltix-storage-0\.` + regexp.QuoteMeta(tc.service) + `\.default\.svc\.cluster\.local:(\d+)$`)
			if m := want.FindStringSubmatch(cfg.Node.Advertise); m == nil || !slices.Contains(slices.Collect(maps.Values(ports)), atoi(m[1])) {
				t.Errorf("%s: advertises %q, want the pod's name under the headless Service on a declared port", tc.name, cfg.Node.Advertise)
			}
		})
	}
	// etcd: the URL the ConfigMap names is the etcd Service's client port.
	etcd := byKind("Service", "etcd")
	var client int
	for _, p := range etcd.Spec.Ports {
		if p.Name == "client" {
			client = p.Port
		}
	}
	if want := fmt.Sprintf("http://etcd:%d", client); !strings.Contains(cm.Data["soltix.yaml"], want) {
		t.Errorf("the ConfigMap's cluster.etcd does not name the etcd Service's client port (%s)", want)
	}
}

// shutdownFlushAllowance is the time a grace period leaves a stopping
// node to flush memory to files after its requests have finished.
const shutdownFlushAllowance = 30 * time.Second

// k8sBytes parses a Kubernetes memory quantity ("512Mi", "1Gi"); -1 when
// it is not one.
func k8sBytes(q string) int64 {
	for suffix, mult := range map[string]int64{"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40} {
		if n, ok := strings.CutSuffix(q, suffix); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			if err != nil {
				return -1
			}
			return v * mult
		}
	}
	v, err := strconv.ParseInt(q, 10, 64)
	if err != nil {
		return -1
	}
	return v
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}
