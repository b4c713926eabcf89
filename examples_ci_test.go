package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/iammap/iammap/internal/desired"
	"sigs.k8s.io/yaml"
)

// loadYAML reads a CI file as generic YAML.
func loadYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// dig walks nested maps.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// The GitHub fleet workflow lists the clusters with iammap and fans out one
// job per cluster, none stopping the others.
func TestGitHubFleetWorkflowIsAMatrixOverIammapClusters(t *testing.T) {
	wf := loadYAML(t, "examples/ci/github-actions-fleet.yaml")
	steps, _ := dig(wf, "jobs", "clusters", "steps").([]any)
	listed := slices.ContainsFunc(steps, func(s any) bool {
		run, _ := dig(s, "run").(string)
		return strings.Contains(run, "iammap clusters -f access.yaml -o json") && strings.Contains(run, "GITHUB_OUTPUT")
	})
	if !listed {
		t.Error("the clusters job does not publish `iammap clusters -f access.yaml -o json` as an output")
	}
	if ff, ok := dig(wf, "jobs", "access", "strategy", "fail-fast").(bool); !ok || ff {
		t.Error("the matrix must set fail-fast: false, so one failing cluster does not cancel the others")
	}
	if inc, _ := dig(wf, "jobs", "access", "strategy", "matrix", "include").(string); !strings.Contains(inc, "fromJSON(needs.clusters.outputs.clusters)") {
		t.Errorf("matrix include = %q, want the clusters job's output", inc)
	}
	for _, cmd := range []string{"diff", "apply"} {
		found := false
		for _, s := range dig(wf, "jobs", "access", "steps").([]any) {
			if dig(s, "uses") == "iammap/iammap@v1" && dig(s, "with", "command") == cmd && dig(s, "with", "cluster") == "${{ matrix.cluster }}" {
				found = true
			}
		}
		if !found {
			t.Errorf("no step runs the action with command %s for the matrix cluster", cmd)
		}
	}
}

// The GitLab fleet example's matrix is the clusters of the access file it
// is written for, so the check job it carries would pass.
func TestGitLabFleetMatrixMatchesTheAccessFile(t *testing.T) {
	ci := loadYAML(t, "examples/ci/gitlab-ci-fleet.yaml")
	matrix, _ := dig(ci, ".clusters", "parallel", "matrix").([]any)
	var got []string
	for _, m := range matrix {
		got = append(got, dig(m, "CLUSTER").(string)+"/"+dig(m, "AWS_REGION").(string))
	}
	f, err := desired.Load("examples/access/multi-cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, c := range f.Clusters {
		want = append(want, c.Name+"/"+c.Region)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("GitLab matrix %v, access file clusters %v", got, want)
	}
	for _, job := range []string{"eks-access-plan", "eks-access-apply"} {
		if ext := dig(ci, job, "extends"); !slices.Contains(ext.([]any), any(".clusters")) {
			t.Errorf("%s does not run over the matrix", job)
		}
	}
}

// The action is a composite that installs a pinned iammap, and its run
// script parses and keeps diff's exit codes: 2 (changes pending) is a
// notice unless fail-on-changes, 1 fails the step, and the plan reaches the
// job summary either way.
func TestActionInstallsAPinnedIammapAndKeepsDiffExitCodes(t *testing.T) {
	action := loadYAML(t, "action.yml")
	if dig(action, "runs", "using") != "composite" {
		t.Fatal("action.yml is not a composite action")
	}
	for _, in := range []string{"command", "file", "cluster", "region", "version", "fail-on-changes"} {
		if dig(action, "inputs", in) == nil {
			t.Errorf("input %s missing", in)
		}
	}
	var install, run map[string]any
	for _, s := range dig(action, "runs", "steps").([]any) {
		switch dig(s, "name") {
		case "Install iammap":
			install = s.(map[string]any)
		case "iammap ${{ inputs.command }}":
			run = s.(map[string]any)
		}
	}
	if install == nil || run == nil {
		t.Fatal("install or run step missing")
	}
	if v := dig(install, "env", "VERSION"); v != "${{ inputs.version || github.action_ref }}" || !strings.Contains(install["run"].(string), `go install "github.com/iammap/iammap@${VERSION}"`) {
		t.Errorf("install step does not pin the version: %v", install)
	}

	// Run the step's script with a stand-in iammap that exits as told.
	dir := t.TempDir()
	script := filepath.Join(dir, "run.sh")
	if err := os.WriteFile(script, []byte(run["run"].(string)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("bash", "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	stub := filepath.Join(dir, "iammap")
	if err := os.WriteFile(stub, []byte("#!/bin/sh\necho \"plan for $*\"\nexit $STUB_EXIT\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		command, stubExit, failOnChanges string
		wantExit                         int
	}{
		{"diff", "0", "false", 0},
		{"diff", "2", "false", 0},
		{"diff", "2", "true", 2},
		{"diff", "1", "false", 1},
		{"apply", "1", "false", 1},
		{"destroy", "0", "false", 1},
	} {
		summary, outputs := filepath.Join(dir, "summary"), filepath.Join(dir, "outputs")
		os.Remove(summary)
		os.Remove(outputs)
		cmd := exec.Command("bash", "-e", script)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "STUB_EXIT="+tc.stubExit, "COMMAND="+tc.command, "FILE=access.yaml",
			"CLUSTER=prod", "REGION=eu-west-1", "ARGS=--prune", "FAIL_ON_CHANGES="+tc.failOnChanges, "GITHUB_STEP_SUMMARY="+summary, "GITHUB_OUTPUT="+outputs)
		out, _ := cmd.CombinedOutput()
		if got := cmd.ProcessState.ExitCode(); got != tc.wantExit {
			t.Errorf("%s with iammap exiting %s (fail-on-changes %s): step exits %d, want %d\n%s", tc.command, tc.stubExit, tc.failOnChanges, got, tc.wantExit, out)
		}
		if tc.command == "destroy" {
			continue
		}
		if b, _ := os.ReadFile(summary); !strings.Contains(string(b), "plan for "+tc.command+" -f access.yaml --cluster prod --region eu-west-1 --prune") {
			t.Errorf("job summary = %q, want the plan", b)
		}
		if b, _ := os.ReadFile(outputs); string(b) != "exit-code="+tc.stubExit+"\n" {
			t.Errorf("outputs = %q", b)
		}
	}
}
