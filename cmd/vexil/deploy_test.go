package main

import (
	"context"
	"debug/elf"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// TestContainerImage builds deploy/Containerfile's image with Debian's podman
// (or buildah): a static binary FROM scratch, run as 65532. It then runs the
// image: with podman run where the machine allows it, else its exported
// filesystem under chroot as user 65532, which is the same binary in the same
// (empty) filesystem without the container runtime's namespaces. It skips
// when neither podman nor buildah is installed.
func TestContainerImage(t *testing.T) {
	t.Parallel() // minutes of building and waiting, independent of the other tests
	if testing.Short() {
		t.Skip("-short: builds a static vexil and an image")
	}
	tool := ""
	for _, c := range []string{"podman", "buildah"} {
		if _, err := exec.LookPath(c); err == nil {
			tool = c
			break
		}
	}
	if tool == "" {
		t.Skip("neither podman nor buildah is installed (apt-get install podman)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	run := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}

	// The build context: the Containerfile, the static binary, /data.
	dir := t.TempDir()
	bctx := filepath.Join(dir, "context")
	bin := filepath.Join(bctx, "rootfs", "vexil")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("static build: %v\n%s", err, out)
	}
	assertStatic(t, bin)
	for _, f := range []string{"Containerfile", "rootfs/data/.keep"} {
		copyFile(t, filepath.Join("../../deploy", f), filepath.Join(bctx, f))
	}

	tag := fmt.Sprintf("localhost/vexil-test:%d", os.Getpid())
	if tool == "podman" {
		run("podman", "build", "-q", "-f", filepath.Join(bctx, "Containerfile"), "-t", tag, bctx)
	} else {
		run("buildah", "bud", "-q", "-f", filepath.Join(bctx, "Containerfile"), "-t", tag, bctx)
	}
	t.Cleanup(func() { exec.Command(tool, "rmi", "-f", tag).Run() })
	if user := run(tool, "inspect", "--format", "{{.Config.User}}", tag); user != "65532:65532" {
		t.Errorf("the image runs as %q, want 65532:65532", user)
	}

	flagsYAML := filepath.Join(dir, "flags.yaml")
	copyFile(t, "../../flags.yaml", flagsYAML)
	addr := freeAddr(t)
	token := "vxl_image-test-token-0123456789abcdef"
	if tool == "podman" {
		name := fmt.Sprintf("vexil-test-%d", os.Getpid())
		out, err := exec.CommandContext(ctx, "podman", "run", "-d", "--rm", "--name", name, "--network", "host",
			"-e", "VEXIL_ADDR="+addr, "-e", "VEXIL_BOOTSTRAP_TOKEN="+token,
			"-v", flagsYAML+":/etc/vexil/flags.yaml:ro", tag).CombinedOutput()
		if err == nil {
			t.Cleanup(func() { exec.Command("podman", "rm", "-f", name).Run() })
			probe(ctx, t, addr, token)
			if out, err := exec.CommandContext(ctx, "podman", "stop", "-t", "20", name).CombinedOutput(); err != nil {
				t.Errorf("podman stop: %v\n%s", err, out)
			}
			return
		}
		exec.Command("podman", "rm", "-f", name).Run()
		t.Logf("podman run cannot run containers here, so the image's filesystem runs under chroot instead: %s", strings.TrimSpace(string(out)))
	}
	runUnderChroot(ctx, t, tool, tag, dir, flagsYAML, addr, token)
}

// runUnderChroot exports the image's filesystem and runs its entrypoint
// there as the image's user, with the image's environment and working
// directory, then stops it with SIGTERM as Kubernetes and systemd do.
func runUnderChroot(ctx context.Context, t *testing.T, tool, tag, dir, flagsYAML, addr, token string) {
	if os.Geteuid() != 0 {
		t.Skip("running the image without a container runtime needs chroot, which needs root")
	}
	root := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	var cid string
	if tool == "podman" {
		out, err := exec.CommandContext(ctx, "podman", "create", tag).Output()
		if err != nil {
			t.Fatalf("podman create: %v", err)
		}
		cid = strings.TrimSpace(string(out))
		t.Cleanup(func() { exec.Command("podman", "rm", "-f", cid).Run() })
	} else {
		out, err := exec.CommandContext(ctx, "buildah", "from", tag).Output()
		if err != nil {
			t.Fatalf("buildah from: %v", err)
		}
		cid = strings.TrimSpace(string(out))
		t.Cleanup(func() { exec.Command("buildah", "rm", cid).Run() })
	}
	tarball := filepath.Join(dir, "image.tar")
	if tool == "podman" {
		if out, err := exec.CommandContext(ctx, "podman", "export", "-o", tarball, cid).CombinedOutput(); err != nil {
			t.Fatalf("podman export: %v\n%s", err, out)
		}
	} else {
		mnt, err := exec.CommandContext(ctx, "buildah", "mount", cid).Output()
		if err != nil {
			t.Fatalf("buildah mount: %v", err)
		}
		if out, err := exec.CommandContext(ctx, "tar", "-C", strings.TrimSpace(string(mnt)), "-cf", tarball, ".").CombinedOutput(); err != nil {
			t.Fatalf("tar: %v\n%s", err, out)
		}
	}
	if out, err := exec.CommandContext(ctx, "tar", "-C", root, "--same-owner", "-xf", tarball).CombinedOutput(); err != nil {
		t.Fatalf("untar: %v\n%s", err, out)
	}
	// FROM scratch: the binary and /data, and nothing to run a shell with.
	if _, err := os.Stat(filepath.Join(root, "bin", "sh")); err == nil {
		t.Error("the image has /bin/sh; it should be FROM scratch")
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(root, "data"), &st); err != nil || st.Uid != 65532 {
		t.Errorf("/data is not owned by 65532 (%v, uid %d)", err, st.Uid)
	}
	copyFile(t, flagsYAML, filepath.Join(root, "etc", "vexil", "flags.yaml"))

	env := map[string]string{}
	for _, kv := range strings.Fields(strings.Trim(mustOutput(ctx, t, tool, "inspect", "--format", "{{range .Config.Env}}{{.}} {{end}}", tag), " ")) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	env["VEXIL_ADDR"], env["VEXIL_BOOTSTRAP_TOKEN"] = addr, token
	var envList []string
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	cmd := exec.CommandContext(ctx, "chroot", "--userspec=65532:65532", root, "/vexil", "serve", "--flags", "/etc/vexil/flags.yaml")
	cmd.Env = envList
	logs, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-done
		}
	}()
	if !probe(ctx, t, addr, token) {
		out, _ := os.ReadFile(filepath.Join(dir, "serve.log"))
		t.Fatalf("the server in the image's filesystem:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(root, "data", "vexil.db")); err != nil {
		t.Errorf("no SQLite database in /data: %v", err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			out, _ := os.ReadFile(filepath.Join(dir, "serve.log"))
			t.Errorf("on SIGTERM vexil serve exited with %v, want 0\n%s", err, out)
		}
	case <-time.After(30 * time.Second):
		t.Error("vexil serve did not stop within 30 s of SIGTERM")
	}
}

// probe waits (generously) for /readyz, then checks the probes and that the
// bootstrap token works; it reports whether the server became ready.
func probe(ctx context.Context, t *testing.T, addr, token string) bool {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Errorf("/readyz did not answer 200 within 60 s (last: %v)", err)
			return false
		}
		time.Sleep(250 * time.Millisecond)
	}
	for path, auth := range map[string]string{"/healthz": "", "/api/v1/envs/dev/rules": token} {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("GET %s: %v", path, err)
			continue
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s", path, res.Status)
		}
	}
	return true
}

// assertStatic fails unless the ELF file asks for no interpreter and no
// shared libraries: it runs in an empty filesystem.
func assertStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s needs a dynamic loader", path)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s links shared libraries %v", path, libs)
	}
}

// TestDeployManifests checks what a cluster and systemd would read, where
// this machine has neither: the Kubernetes objects' essentials, and the
// systemd unit with systemd-analyze verify when that is installed.
func TestDeployManifests(t *testing.T) {
	data, err := os.ReadFile("../../deploy/kubernetes/vexil.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var deployment map[string]any
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	kinds := map[string]bool{}
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			break
		}
		kind, _ := obj["kind"].(string)
		kinds[kind] = true
		if kind == "Deployment" {
			deployment = obj
		}
	}
	for _, k := range []string{"Deployment", "Service", "PodDisruptionBudget"} {
		if !kinds[k] {
			t.Errorf("no %s in deploy/kubernetes/vexil.yaml", k)
		}
	}
	if deployment == nil {
		t.Fatal("no Deployment")
	}
	get := func(v any, path ...any) any {
		for _, p := range path {
			switch p := p.(type) {
			case string:
				m, _ := v.(map[string]any)
				v = m[p]
			case int:
				s, _ := v.([]any)
				if p >= len(s) {
					return nil
				}
				v = s[p]
			}
		}
		return v
	}
	c := get(deployment, "spec", "template", "spec", "containers", 0)
	for _, tc := range []struct {
		what string
		got  any
		want any
	}{
		{"replicas", get(deployment, "spec", "replicas"), 2},
		{"readiness probe", get(c, "readinessProbe", "httpGet", "path"), "/readyz"},
		{"liveness probe", get(c, "livenessProbe", "httpGet", "path"), "/healthz"},
		{"non-root", get(deployment, "spec", "template", "spec", "securityContext", "runAsNonRoot"), true},
		{"user", get(deployment, "spec", "template", "spec", "securityContext", "runAsUser"), 65532},
		{"DSN from a Secret", get(c, "env", 0, "name"), "VEXIL_DB"},
		{"DSN's secret key", get(c, "env", 0, "valueFrom", "secretKeyRef", "key"), "database-url"},
		{"command", get(c, "args", 0), "serve"},
	} {
		if fmt.Sprint(tc.got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: %v, want %v", tc.what, tc.got, tc.want)
		}
	}

	unit, err := os.ReadFile("../../deploy/systemd/vexil.service")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "ExecStart=/usr/local/bin/vexil serve ") {
		t.Error("the systemd unit does not run vexil serve")
	}
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Log("systemd-analyze is not installed; the unit was only read")
		return
	}
	// verify wants ExecStart's binary to exist: point it at this one.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "vexil.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/vexil", exe)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func mustOutput(ctx context.Context, t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return string(out)
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
