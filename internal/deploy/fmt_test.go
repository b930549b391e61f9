package deploy

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/hclwrite"
)

// TestTerraformCanonicalFormat checks that every .tf file is exactly what
// hclwrite.Format (the formatter terraform fmt uses) makes of it.
func TestTerraformCanonicalFormat(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(terraformDir, "*.tf"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no .tf files")
	}
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if line, ok := firstDifference(src, hclwrite.Format(src)); !ok {
			t.Errorf("%s is not canonically formatted from line %d on: run terraform fmt", p, line)
		}
	}
}

// TestCanonicalFormatCheckCatchesMisformatting makes sure the check above
// can fail: misaligned equals signs and a wrong indent are not canonical.
func TestCanonicalFormatCheckCatchesMisformatting(t *testing.T) {
	good := "variable \"a\" {\n  type    = string\n  default = \"x\"\n}\n"
	if _, ok := firstDifference([]byte(good), hclwrite.Format([]byte(good))); !ok {
		t.Fatalf("canonical input reported as misformatted")
	}
	for _, bad := range []string{
		"variable \"a\" {\n  type = string\n  default = \"x\"\n}\n",
		"variable \"a\" {\n    type    = string\n}\n",
		"variable  \"a\" {\n}\n",
	} {
		if _, ok := firstDifference([]byte(bad), hclwrite.Format([]byte(bad))); ok {
			t.Errorf("misformatted input passed:\n%s", bad)
		}
	}
}

// firstDifference reports whether a and b are equal and, if not, the
// 1-based line of their first difference.
func firstDifference(a, b []byte) (int, bool) {
	if bytes.Equal(a, b) {
		return 0, true
	}
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	return 1 + bytes.Count(a[:i], []byte("\n")), false
}

// TestTerraformFmtCheck runs terraform fmt -check (which formats with
// hclwrite) where terraform is installed. terraform init and validate need
// the AWS provider, which cannot be downloaded here, so they are not run.
func TestTerraformFmtCheck(t *testing.T) {
	tf, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("terraform is not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tf, "fmt", "-check", "-recursive", "-diff", "terraform")
	cmd.Dir = filepath.Join(terraformDir, "..")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("terraform fmt -check -recursive terraform: %v\n%s", err, out)
	}
}
