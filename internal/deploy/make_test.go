package deploy

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/service"
)

// makeDryRun runs `make -n <args>` at the repository root with an
// environment that cannot change the Makefile's defaults, and returns the
// commands make would run.
func makeDryRun(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	mk, lookErr := exec.LookPath("make")
	if lookErr != nil {
		t.Skip("make is not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, mk, append([]string{"-n", "--no-print-directory"}, args...)...)
	cmd.Dir = repoRoot
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEFILES", "AWS_ACCOUNT_ID", "AWS_REGION", "IMAGE_TAG",
			"PLATFORM", "PROJECT", "DOCKER", "AWS", "GO", "TERRAFORM", "VERSION":
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, "VERSION=v0.0.0-test")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// TestMakePush checks that `make push` builds every service's target, logs
// in to ECR and tags and pushes iprs-<service> the way the seed's
// deployment workflow does, for every service of service.All().
func TestMakePush(t *testing.T) {
	out, stderr, err := makeDryRun(t, "push", "AWS_ACCOUNT_ID=123456789012", "AWS_REGION=eu-west-1", "IMAGE_TAG=v7")
	if err != nil {
		t.Fatalf("make -n push: %v\n%s", err, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	registry := "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
	login := "aws ecr get-login-password --region eu-west-1 | docker login --username AWS --password-stdin " + registry
	loginAt := indexOf(lines, login)
	if loginAt < 0 {
		t.Errorf("make push does not log in to ECR with %q:\n%s", login, out)
	}
	pushes := 0
	for _, l := range lines {
		if strings.HasPrefix(l, "docker push ") {
			pushes++
		}
	}
	if pushes != len(service.All()) {
		t.Errorf("make push pushes %d images, want %d", pushes, len(service.All()))
	}
	for _, spec := range service.All() {
		image := fmt.Sprintf("iprs-%s:v7", spec.Name)
		remote := registry + "/" + image
		build := indexWhere(lines, func(l string) bool {
			return strings.HasPrefix(l, "docker build ") && strings.Contains(l, " --target "+string(spec.Name)+" ") &&
				strings.Contains(l, " -t "+image+" ") && strings.HasSuffix(l, " .")
		})
		tag := indexOf(lines, "docker tag "+image+" "+remote)
		push := indexOf(lines, "docker push "+remote)
		switch {
		case build < 0:
			t.Errorf("%s: no docker build --target %s -t %s", spec.Name, spec.Name, image)
		case tag < 0 || push < 0:
			t.Errorf("%s: no docker tag/push of %s", spec.Name, remote)
		case !(build < tag && tag < push && loginAt < push):
			t.Errorf("%s: build, tag and push out of order (lines %d, %d, %d; login %d)", spec.Name, build, tag, push, loginAt)
		}
	}
}

// TestMakePushNeedsAccount checks that make push refuses to run without
// AWS_ACCOUNT_ID instead of pushing to a malformed registry.
func TestMakePushNeedsAccount(t *testing.T) {
	out, stderr, err := makeDryRun(t, "push")
	if err == nil {
		t.Fatalf("make -n push without AWS_ACCOUNT_ID succeeded:\n%s", out)
	}
	if !strings.Contains(stderr, "AWS_ACCOUNT_ID") {
		t.Errorf("make push without AWS_ACCOUNT_ID says %q, want it to name AWS_ACCOUNT_ID", stderr)
	}
	if strings.Contains(out, "docker push") {
		t.Errorf("make push without AWS_ACCOUNT_ID would push:\n%s", out)
	}
}

// TestMakeImages checks one image per service, built from its target.
func TestMakeImages(t *testing.T) {
	out, stderr, err := makeDryRun(t, "images")
	if err != nil {
		t.Fatalf("make -n images: %v\n%s", err, stderr)
	}
	if n := strings.Count(out, "docker build "); n != len(service.All()) {
		t.Errorf("make images runs %d docker builds, want %d", n, len(service.All()))
	}
	for _, spec := range service.All() {
		if !strings.Contains(out, "--target "+string(spec.Name)+" -t iprs-"+string(spec.Name)+":latest ") {
			t.Errorf("make images does not build target %s as iprs-%s:latest:\n%s", spec.Name, spec.Name, out)
		}
	}
}

// TestMakeTargets checks the other targets the deployment workflow uses.
func TestMakeTargets(t *testing.T) {
	cases := []struct {
		target string
		want   []string
	}{
		{"build", []string{"CGO_ENABLED=0 go build", "./cmd/iprs", "-X main.version=v0.0.0-test"}},
		{"test", []string{"go test ./..."}},
		{"tf-fmt", []string{"terraform fmt -check -recursive terraform"}},
		{"migrate-aws", []string{
			"aws ecs run-task", "--launch-type FARGATE", "output -raw migrate_task_definition_arn",
			"output -json private_subnet_ids", "output -raw ecs_security_group_id", "assignPublicIp=DISABLED",
			"aws ecs wait tasks-stopped", "exitCode",
		}},
		{"deploy-aws", []string{"aws ecs update-service", "--force-new-deployment", "output -raw ecs_cluster_name"}},
	}
	for _, c := range cases {
		t.Run(c.target, func(t *testing.T) {
			out, stderr, err := makeDryRun(t, c.target)
			if err != nil {
				t.Fatalf("make -n %s: %v\n%s", c.target, err, stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("make %s does not run %q:\n%s", c.target, w, out)
				}
			}
		})
	}
	// deploy-aws rolls every service, by the names the ECS services have.
	out, _, err := makeDryRun(t, "deploy-aws")
	if err != nil {
		t.Fatal(err)
	}
	for _, spec := range service.All() {
		if !strings.Contains(out, string(spec.Name)) {
			t.Errorf("make deploy-aws does not name %s", spec.Name)
		}
	}
}

func indexOf(lines []string, want string) int {
	return indexWhere(lines, func(l string) bool { return l == want })
}

func indexWhere(lines []string, f func(string) bool) int {
	for i, l := range lines {
		if f(strings.TrimSpace(l)) {
			return i
		}
	}
	return -1
}
