package deploy

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// TestTerraformLayout checks, from the HCL tokens of every .tf file, the
// layout terraform fmt gives a file: two spaces of indent per level of
// brackets opened on earlier lines, the `=` of consecutive one-line
// attributes aligned one space after the longest name, single spaces
// between tokens, no tabs, no trailing blanks, one final newline.
// TestTerraformFmtCheck below runs terraform fmt itself for the exact check.
func TestTerraformLayout(t *testing.T) {
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
		for _, problem := range layoutProblems(src, filepath.Base(p)) {
			t.Errorf("%s: %s", p, problem)
		}
	}
}

// TestLayoutProblemsFindsMisformatting checks the layout check itself on
// small inputs with known problems.
func TestLayoutProblemsFindsMisformatting(t *testing.T) {
	cases := []struct {
		name, src string
		want      int // number of problems
	}{
		{"canonical", "locals {\n  a = 1\n  bcd = [\n    \"x\",\n  ]\n\n  e = { f = 1 }\n}\n", 0},
		{"indent", "locals {\n   a = 1\n}\n", 1},
		{"unaligned", "locals {\n  a = 1\n  bcd = 2\n}\n", 1},
		{"over-aligned", "locals {\n  a    = 1\n  bcd  = 2\n}\n", 2},
		{"blank line breaks the chain", "locals {\n  a = 1\n\n  bcd = 2\n}\n", 0},
		{"double space", "locals {\n  a = [1,  2]\n}\n", 1},
		{"tab", "locals {\n\ta = 1\n}\n", 2},
		{"trailing blank", "locals {\n  a = 1 \n}\n", 1},
		{"no final newline", "locals {\n  a = 1\n}", 1},
		{"closing bracket dedents", "locals {\n  a = [\n    1,\n    ]\n}\n", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := layoutProblems([]byte(c.src), "test.tf")
			if len(got) != c.want {
				t.Errorf("%d problems, want %d: %q", len(got), c.want, got)
			}
		})
	}
}

// layoutProblems lists the departures of src from terraform fmt's layout.
func layoutProblems(src []byte, filename string) []string {
	var problems []string
	add := func(line int, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("line %d: ", line)+fmt.Sprintf(format, args...))
	}
	if len(src) > 0 && !bytes.HasSuffix(src, []byte("\n")) {
		add(bytes.Count(src, []byte("\n"))+1, "no newline at end of file")
	}
	if bytes.HasSuffix(src, []byte("\n\n")) {
		add(bytes.Count(src, []byte("\n")), "blank lines at end of file")
	}
	for i, l := range strings.Split(string(src), "\n") {
		if strings.Contains(l, "\t") {
			add(i+1, "tab")
		}
		if strings.TrimRight(l, " \t\r") != l {
			add(i+1, "trailing whitespace")
		}
	}

	tokens, diags := hclsyntax.LexConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return append(problems, diags.Error())
	}
	lines := splitLines(tokens)

	// Indentation, the way hclwrite counts it: a line with a net increase
	// of open brackets pushes one level, a line with a net decrease pops
	// the levels it closes, and the line is indented by the levels open
	// after any popping of its own closers.
	var indents []int
	for _, ln := range lines {
		if len(ln) == 0 || ln[0].Type == hclsyntax.TokenNewline || ln[0].Type == hclsyntax.TokenEOF {
			continue
		}
		net := 0
		for _, tok := range ln {
			net += bracketChange(tok)
		}
		want := 2 * len(indents)
		switch {
		case net > 0:
			indents = append(indents, net)
		case net < 0:
			closed := -net
			for closed > 0 && len(indents) > 0 {
				top := indents[len(indents)-1]
				switch {
				case closed >= top:
					closed -= top
					indents = indents[:len(indents)-1]
				default:
					indents[len(indents)-1] -= closed
					closed = 0
				}
			}
			want = 2 * len(indents)
		}
		if got := ln[0].Range.Start.Column - 1; got != want {
			add(ln[0].Range.Start.Line, "indented %d, want %d", got, want)
		}
	}

	// Alignment of `=` over runs of consecutive one-line attributes.
	var chain []assignCell
	closeChain := func() {
		maxEnd := 0
		for _, a := range chain {
			maxEnd = max(maxEnd, a.leadEnd)
		}
		for _, a := range chain {
			if a.eqCol != maxEnd+1 {
				add(a.line, "`=` at column %d, want %d (aligned one space after the longest name)", a.eqCol, maxEnd+1)
			}
		}
		chain = nil
	}
	for _, ln := range lines {
		a, ok := assignment(ln)
		if !ok {
			closeChain()
			continue
		}
		chain = append(chain, a)
	}
	closeChain()

	// Single spaces between tokens on a line (alignment before `=` and
	// before a comment aside).
	for _, ln := range lines {
		for i := 1; i < len(ln); i++ {
			prev, tok := ln[i-1], ln[i]
			if tok.Type == hclsyntax.TokenNewline || tok.Type == hclsyntax.TokenEOF || tok.Type == hclsyntax.TokenComment {
				continue
			}
			if _, ok := assignment(ln); ok && tok.Type == hclsyntax.TokenEqual && i == assignIndex(ln) {
				continue
			}
			if gap := tok.Range.Start.Byte - prev.Range.End.Byte; gap > 1 && !insideString(prev, tok) {
				add(tok.Range.Start.Line, "%d spaces before %q", gap, tok.Bytes)
			}
		}
	}
	return problems
}

// splitLines groups tokens by the line they start on, each line ending with
// its newline token.
func splitLines(tokens hclsyntax.Tokens) []hclsyntax.Tokens {
	var lines []hclsyntax.Tokens
	var cur hclsyntax.Tokens
	for _, tok := range tokens {
		cur = append(cur, tok)
		// A line comment carries its newline.
		if tok.Type == hclsyntax.TokenNewline || tok.Type == hclsyntax.TokenEOF ||
			tok.Type == hclsyntax.TokenComment && bytes.HasSuffix(tok.Bytes, []byte("\n")) {
			lines = append(lines, cur)
			cur = nil
		}
	}
	if len(cur) > 0 {
		lines = append(lines, cur)
	}
	return lines
}

// assignCell is the `=` of a one-line attribute.
type assignCell struct {
	line    int
	leadEnd int // column just after the last token before `=`
	eqCol   int // column of `=`
}

// assignment reports a one-line attribute: a line whose first `=` (not the
// first token) is followed by a complete expression, as hclwrite decides
// which lines take part in aligning.
func assignment(ln hclsyntax.Tokens) (assignCell, bool) {
	var a assignCell
	i := assignIndex(ln)
	if i <= 0 {
		return a, false
	}
	net := 0
	for _, tok := range ln[i:] {
		net += bracketChange(tok)
	}
	if net != 0 {
		return a, false
	}
	a.line = ln[i].Range.Start.Line
	a.leadEnd = ln[i-1].Range.End.Column
	a.eqCol = ln[i].Range.Start.Column
	return a, true
}

func assignIndex(ln hclsyntax.Tokens) int {
	for i, tok := range ln {
		if tok.Type == hclsyntax.TokenEqual {
			return i
		}
	}
	return -1
}

func bracketChange(tok hclsyntax.Token) int {
	switch tok.Type {
	case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen,
		hclsyntax.TokenTemplateControl, hclsyntax.TokenTemplateInterp:
		return 1
	case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
		hclsyntax.TokenTemplateSeqEnd:
		return -1
	}
	return 0
}

// insideString reports a gap between two tokens of a quoted template, where
// spaces are the string's own content.
func insideString(prev, tok hclsyntax.Token) bool {
	return prev.Type == hclsyntax.TokenQuotedLit || tok.Type == hclsyntax.TokenQuotedLit
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
