package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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

// pinnedAction: the action at a full version tag (vX.Y.Z), not a major
// tag that go install resolves to the newest release when the job runs.
var pinnedAction = regexp.MustCompile(`^iammap/iammap@v[0-9]+\.[0-9]+\.[0-9]+$`)

// The GitHub fleet workflow lists the clusters with iammap (failing when
// iammap fails) and fans out one job per cluster, none stopping the others,
// one at a time per cluster, applies through an environment.
func TestGitHubFleetWorkflowIsAMatrixOverIammapClusters(t *testing.T) {
	wf := loadYAML(t, "examples/ci/github-actions-fleet.yaml")
	if dig(wf, "permissions", "id-token") != "write" || dig(wf, "permissions", "contents") != "read" {
		t.Errorf("permissions = %v, want id-token: write, contents: read", dig(wf, "permissions"))
	}
	var list string
	for _, s := range dig(wf, "jobs", "clusters", "steps").([]any) {
		if run, _ := dig(s, "run").(string); strings.Contains(run, "iammap clusters -f access.yaml -o json") && strings.Contains(run, "GITHUB_OUTPUT") {
			list = run
		}
		if u, _ := dig(s, "uses").(string); strings.HasPrefix(u, "iammap/iammap@") && !pinnedAction.MatchString(u) {
			t.Errorf("%s is not pinned to a full version", u)
		}
	}
	if list == "" {
		t.Fatal("the clusters job does not publish `iammap clusters -f access.yaml -o json` as an output")
	}
	// Run the list step with a stand-in iammap: its output becomes the
	// step's, and its failure fails the step (as bash -e runs it, and
	// without -e too).
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "iammap"), []byte("#!/bin/sh\necho '[{\"cluster\":\"prod-eu\"}]'\nexit $STUB_EXIT\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, shell := range [][]string{{"bash", "-e", "-c"}, {"bash", "-c"}} {
		for _, exit := range []string{"0", "1"} {
			outputs := filepath.Join(dir, "outputs")
			os.Remove(outputs)
			cmd := exec.Command(shell[0], append(shell[1:], list)...)
			cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "STUB_EXIT="+exit, "GITHUB_OUTPUT="+outputs)
			out, _ := cmd.CombinedOutput()
			b, _ := os.ReadFile(outputs)
			if got := cmd.ProcessState.ExitCode(); exit == "0" && (got != 0 || string(b) != "clusters=[{\"cluster\":\"prod-eu\"}]\n") {
				t.Errorf("%v: list step exits %d, outputs %q\n%s", shell, got, b, out)
			} else if exit == "1" && got == 0 {
				t.Errorf("%v: iammap clusters failed, the list step did not\n%s", shell, out)
			}
		}
	}

	job := dig(wf, "jobs", "access")
	if dig(job, "runs-on") == nil {
		t.Error("the matrix job has no runs-on")
	}
	if dig(job, "name") != "${{ matrix.cluster }}" {
		t.Errorf("matrix job name = %v, want ${{ matrix.cluster }}", dig(job, "name"))
	}
	if ff, ok := dig(job, "strategy", "fail-fast").(bool); !ok || ff {
		t.Error("the matrix must set fail-fast: false, so one failing cluster does not cancel the others")
	}
	if inc, _ := dig(job, "strategy", "matrix", "include").(string); !strings.Contains(inc, "fromJSON(needs.clusters.outputs.clusters)") {
		t.Errorf("matrix include = %q, want the clusters job's output", inc)
	}
	if g := dig(job, "concurrency", "group"); g != "eks-access-${{ matrix.account }}-${{ matrix.region }}-${{ matrix.name || matrix.cluster }}" {
		t.Errorf("concurrency group = %v, want one per EKS cluster (account, region, EKS name)", g)
	}
	if c, ok := dig(job, "concurrency", "cancel-in-progress").(bool); !ok || c {
		t.Error("concurrency must not cancel an apply in progress")
	}
	if env, _ := dig(job, "environment").(string); !strings.Contains(env, "github.ref == 'refs/heads/main'") || !strings.Contains(env, "matrix.name || matrix.cluster") {
		t.Errorf("environment = %q, want one per cluster on main only", env)
	}
	var creds map[string]any
	for _, s := range dig(job, "steps").([]any) {
		if u, _ := dig(s, "uses").(string); strings.HasPrefix(u, "aws-actions/configure-aws-credentials@") {
			creds, _ = dig(s, "with").(map[string]any)
		}
	}
	role, _ := creds["role-to-assume"].(string)
	if strings.Contains(role, "matrix.cluster") || !strings.Contains(role, "matrix.account") || !strings.Contains(role, "vars.EKS_ACCESS_ROLE") {
		// Variable names are [A-Za-z0-9_]: prod-eu could never be part of one.
		t.Errorf("role-to-assume = %q, want a variable per account, else vars.EKS_ACCESS_ROLE", role)
	}
	if r, _ := creds["aws-region"].(string); !strings.Contains(r, "matrix.region") || !strings.Contains(r, "vars.AWS_REGION") {
		t.Errorf("aws-region = %q, want the matrix region, else vars.AWS_REGION", r)
	}
	for cmd, cond := range map[string]string{"diff": "github.event_name == 'pull_request'", "apply": "github.ref == 'refs/heads/main'"} {
		found := false
		for _, s := range dig(job, "steps").([]any) {
			u, _ := dig(s, "uses").(string)
			if pinnedAction.MatchString(u) && dig(s, "with", "command") == cmd && dig(s, "with", "cluster") == "${{ matrix.cluster }}" && dig(s, "if") == cond {
				found = true
			}
		}
		if !found {
			t.Errorf("no step runs the pinned action with command %s for the matrix cluster if %s", cmd, cond)
		}
	}
}

// checkGitLabOIDC: a job template that exchanges GitLab's OIDC token for
// the role in EKS_ACCESS_ROLE, through the AWS SDK's web identity variables.
func checkGitLabOIDC(t *testing.T, file string, tmpl any) {
	t.Helper()
	if aud := dig(tmpl, "id_tokens", "AWS_TOKEN", "aud"); aud != "sts.amazonaws.com" {
		t.Errorf("%s: id_tokens AWS_TOKEN aud = %v, want sts.amazonaws.com", file, aud)
	}
	if dig(tmpl, "variables", "AWS_ROLE_ARN") != "$EKS_ACCESS_ROLE" || dig(tmpl, "variables", "AWS_WEB_IDENTITY_TOKEN_FILE") == nil {
		t.Errorf("%s: AWS_ROLE_ARN / AWS_WEB_IDENTITY_TOKEN_FILE not set: %v", file, dig(tmpl, "variables"))
	}
	bs, _ := dig(tmpl, "before_script").([]any)
	if !slices.Contains(bs, any(`printf '%s' "$AWS_TOKEN" > "$AWS_WEB_IDENTITY_TOKEN_FILE"`)) {
		t.Errorf("%s: before_script does not write the token file: %v", file, bs)
	}
}

// checkGitLabBuildOnce: one job installs a pinned iammap as an artifact
// (a static binary), and no other job runs go install.
func checkGitLabBuildOnce(t *testing.T, file string, ci map[string]any) {
	t.Helper()
	if v, _ := dig(ci, "variables", "IAMMAP_VERSION").(string); !regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+$`).MatchString(v) {
		t.Errorf("%s: IAMMAP_VERSION = %q, want a full version", file, v)
	}
	if a, _ := dig(ci, "build-iammap", "artifacts", "paths").([]any); !slices.Contains(a, any("bin/iammap")) || dig(ci, "build-iammap", "variables", "CGO_ENABLED") != "0" {
		t.Errorf("%s: build-iammap does not hand a static bin/iammap on", file)
	}
	for name, job := range ci {
		for _, key := range []string{"before_script", "script"} {
			lines, _ := dig(job, key).([]any)
			for _, l := range lines {
				if s, _ := l.(string); strings.Contains(s, "go install") && name != "build-iammap" {
					t.Errorf("%s: %s runs go install", file, name)
				}
			}
		}
	}
}

// The GitLab fleet example's matrix is the clusters of the access file it
// is written for, so the check job it carries would pass; its jobs reach
// AWS through GitLab's OIDC token, with iammap built once.
func TestGitLabFleetMatrixMatchesTheAccessFile(t *testing.T) {
	const file = "examples/ci/gitlab-ci-fleet.yaml"
	ci := loadYAML(t, file)
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
		ext, _ := dig(ci, job, "extends").([]any)
		if !slices.Contains(ext, any(".clusters")) {
			t.Errorf("%s does not run over the matrix", job)
		}
		if !slices.Contains(ext, any(".aws")) {
			t.Errorf("%s does not authenticate to AWS", job)
		}
	}
	checkGitLabOIDC(t, file, dig(ci, ".aws"))
	checkGitLabBuildOnce(t, file, ci)
	for _, r := range []string{`$CI_PIPELINE_SOURCE == "merge_request_event"`, "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"} {
		rules, _ := dig(ci, "workflow", "rules").([]any)
		if !slices.ContainsFunc(rules, func(x any) bool { return dig(x, "if") == r }) {
			t.Errorf("workflow rules lack %s: build-iammap would not run in every pipeline", r)
		}
	}
	if b, _ := os.ReadFile(file); !strings.Contains(string(b), "gitlab-ci-fleet-dynamic.yaml") {
		t.Error("the static example does not point to the dynamic one")
	}
}

// The dynamic GitLab example generates a child pipeline from `iammap
// clusters -o json`: run the generating job's script with a stand-in
// iammap and check the child it writes.
func TestGitLabDynamicFleetGeneratesAChildPipeline(t *testing.T) {
	const file = "examples/ci/gitlab-ci-fleet-dynamic.yaml"
	ci := loadYAML(t, file)
	checkGitLabBuildOnce(t, file, ci)
	if dig(ci, "generate-pipeline", "needs") != nil {
		t.Error("generate-pipeline needs nothing but the build stage's artifact")
	}
	inc, _ := dig(ci, "eks-access", "trigger", "include").([]any)
	if len(inc) != 1 || dig(inc[0], "artifact") != "child.yml" || dig(inc[0], "job") != "generate-pipeline" {
		t.Errorf("trigger include = %v, want the artifact child.yml of generate-pipeline", inc)
	}
	if dig(ci, "eks-access", "trigger", "strategy") != "depend" || dig(ci, "eks-access", "variables", "PARENT_PIPELINE_ID") != "$CI_PIPELINE_ID" {
		t.Errorf("the trigger job must depend on the child and pass PARENT_PIPELINE_ID: %v", dig(ci, "eks-access"))
	}
	if a, _ := dig(ci, "generate-pipeline", "artifacts", "paths").([]any); !slices.Contains(a, any("child.yml")) {
		t.Error("generate-pipeline does not keep child.yml")
	}
	if _, err := exec.LookPath("jq"); err != nil {
		t.Skip("no jq to run the generating script")
	}
	var lines []string
	for _, l := range dig(ci, "generate-pipeline", "script").([]any) {
		if s := l.(string); !strings.HasPrefix(s, "apk ") {
			lines = append(lines, s)
		}
	}
	script := strings.Join(lines, "\n")
	if !strings.Contains(script, "iammap clusters -f access.yaml -o json") {
		t.Fatal("generate-pipeline does not list the clusters with iammap")
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "bin"), 0o700); err != nil {
		t.Fatal(err)
	}
	stub := `#!/bin/sh
echo '[{"cluster":"staging","region":"eu-west-1"},{"cluster":"prod-eu","account":"444455556666","region":"eu-west-1","roleArn":"arn:aws:iam::444455556666:role/d"},{"cluster":"kind-dev","context":"kind-dev"}]'
exit $STUB_EXIT
`
	if err := os.WriteFile(filepath.Join(dir, "bin", "iammap"), []byte(stub), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ source, exit, command string }{{"merge_request_event", "0", "diff"}, {"push", "0", "apply"}, {"push", "1", ""}} {
		os.Remove(filepath.Join(dir, "child.yml"))
		cmd := exec.Command("sh", "-e", "-c", script) // as GitLab runs a script: one shell, stop at the first failure
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CI_PROJECT_DIR="+dir, "STUB_EXIT="+tc.exit, "CI_PIPELINE_SOURCE="+tc.source)
		out, err := cmd.CombinedOutput()
		if tc.exit != "0" {
			if err == nil {
				t.Errorf("iammap clusters failed, generate-pipeline did not\n%s", out)
			}
			continue
		}
		if err != nil {
			t.Fatalf("generate-pipeline: %v\n%s", err, out)
		}
		child := loadYAML(t, filepath.Join(dir, "child.yml"))
		if got := dig(child, "variables", "IAMMAP_COMMAND"); got != tc.command {
			t.Errorf("%s pipeline: child IAMMAP_COMMAND = %v, want %s", tc.source, got, tc.command)
		}
		if dig(child, "eks-access", "extends") != ".eks-access" {
			t.Errorf("child job does not extend the template: %v", dig(child, "eks-access"))
		}
		matrix, _ := json.Marshal(dig(child, "eks-access", "parallel", "matrix"))
		if want := `[{"AWS_REGION":"eu-west-1","CLUSTER":"staging"},{"AWS_REGION":"eu-west-1","CLUSTER":"prod-eu"},{"CLUSTER":"kind-dev"}]`; string(matrix) != want {
			t.Errorf("child matrix = %s, want %s", matrix, want)
		}
		tmpl := dig(child, ".eks-access")
		checkGitLabOIDC(t, "child.yml", tmpl)
		needs, _ := dig(tmpl, "needs").([]any)
		if len(needs) != 1 || dig(needs[0], "pipeline") != "$PARENT_PIPELINE_ID" || dig(needs[0], "job") != "build-iammap" {
			t.Errorf("child template needs = %v, want the parent's build-iammap", needs)
		}
		if sc, _ := dig(tmpl, "script").([]any); len(sc) != 1 || !strings.Contains(sc[0].(string), `iammap "$IAMMAP_COMMAND" -f access.yaml --cluster "$CLUSTER"`) {
			t.Errorf("child script = %v", sc)
		}
	}
}

// The action is a composite that installs iammap at a version, and its run
// script parses and keeps iammap's exit codes: 2 from diff (or apply
// --dry-run) is a notice unless fail-on-changes, 2 from audit a warning
// unless fail-on-findings, 1 fails the step, and the output reaches the log
// as it comes and the job summary either way. Arguments are never
// glob-expanded against the checkout, clusters is one argument, and no file
// is left in the workspace.
func TestActionInstallsIammapAndKeepsExitCodes(t *testing.T) {
	action := loadYAML(t, "action.yml")
	if dig(action, "runs", "using") != "composite" {
		t.Fatal("action.yml is not a composite action")
	}
	for _, in := range []string{"command", "file", "cluster", "clusters", "region", "args", "version", "fail-on-changes", "fail-on-findings"} {
		if dig(action, "inputs", in) == nil {
			t.Errorf("input %s missing", in)
		}
	}
	if d, _ := dig(action, "inputs", "version", "description").(string); !strings.Contains(d, "commit SHA") || !strings.Contains(d, "v1.0.0") {
		t.Errorf("the version input does not say how to pin: %q", d)
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
		t.Errorf("install step does not install the version: %v", install)
	}
	if v := dig(run, "env", "CLUSTERS"); v != "${{ inputs.clusters }}" {
		t.Errorf("run step env CLUSTERS = %v", v)
	}
	script := run["run"].(string)
	for _, want := range []string{"set -f", `--clusters "$CLUSTERS"`, "RUNNER_TEMP", "| tee "} {
		if !strings.Contains(script, want) {
			t.Errorf("run script lacks %q", want)
		}
	}

	// Run the step's script with a stand-in iammap that prints its
	// arguments one by one (stdout) and a line on stderr, and exits as told.
	dir := t.TempDir()
	bin, work, tmp := filepath.Join(dir, "bin"), filepath.Join(dir, "work"), filepath.Join(dir, "tmp")
	for _, d := range []string{bin, work, tmp} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// A checkout with files a shell glob would match.
	for _, f := range []string{"prod-eu", "prod-us"} {
		if err := os.WriteFile(filepath.Join(work, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	scriptFile := filepath.Join(dir, "run.sh")
	if err := os.WriteFile(scriptFile, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("bash", "-n", scriptFile).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	stub := "#!/bin/sh\necho \"plan for $*\"\nfor a; do printf '<%s>' \"$a\"; done; echo\necho 'stderr line' >&2\nexit $STUB_EXIT\n"
	if err := os.WriteFile(filepath.Join(bin, "iammap"), []byte(stub), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		command, args, clusters, stubExit, failOnChanges, failOnFindings string
		wantExit                                                         int
		wantArgs                                                         string
	}{
		{command: "diff", stubExit: "0", wantExit: 0},
		{command: "diff", stubExit: "2", wantExit: 0},
		{command: "diff", stubExit: "2", failOnChanges: "true", wantExit: 2},
		{command: "diff", stubExit: "1", wantExit: 1},
		{command: "apply", stubExit: "1", wantExit: 1},
		{command: "apply", stubExit: "2", wantExit: 2},
		{command: "apply", args: "--dry-run", stubExit: "2", wantExit: 0, wantArgs: "<--dry-run>"},
		{command: "apply", args: "--dry-run", stubExit: "2", failOnChanges: "true", wantExit: 2, wantArgs: "<--dry-run>"},
		{command: "audit", args: "--fail-on error", stubExit: "2", wantExit: 0, wantArgs: "<--fail-on><error>"},
		{command: "audit", stubExit: "2", failOnFindings: "true", wantExit: 2},
		{command: "audit", stubExit: "0", wantExit: 0},
		{command: "audit", stubExit: "1", wantExit: 1},
		// Globs reach iammap as written, in args and in clusters.
		{command: "diff", args: "--prune --clusters prod-*", stubExit: "0", wantExit: 0, wantArgs: "<--prune><--clusters><prod-*>"},
		{command: "diff", clusters: "prod-*, staging", stubExit: "0", wantExit: 0},
		{command: "destroy", stubExit: "0", wantExit: 1},
	} {
		name := fmt.Sprintf("%s %q clusters %q exit %s fail-on-changes %q fail-on-findings %q", tc.command, tc.args, tc.clusters, tc.stubExit, tc.failOnChanges, tc.failOnFindings)
		summary, outputs := filepath.Join(dir, "summary"), filepath.Join(dir, "outputs")
		os.Remove(summary)
		os.Remove(outputs)
		cmd := exec.Command("bash", "-e", "-o", "pipefail", scriptFile) // as GitHub runs a bash step
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "STUB_EXIT="+tc.stubExit, "COMMAND="+tc.command, "FILE=access.yaml",
			"CLUSTER=prod", "CLUSTERS="+tc.clusters, "REGION=eu-west-1", "ARGS="+tc.args, "FAIL_ON_CHANGES="+tc.failOnChanges, "FAIL_ON_FINDINGS="+tc.failOnFindings,
			"GITHUB_STEP_SUMMARY="+summary, "GITHUB_OUTPUT="+outputs, "RUNNER_TEMP="+tmp)
		out, _ := cmd.CombinedOutput()
		if got := cmd.ProcessState.ExitCode(); got != tc.wantExit {
			t.Errorf("%s: step exits %d, want %d\n%s", name, got, tc.wantExit, out)
		}
		if tc.command == "destroy" {
			continue
		}
		wantArgs := "<" + tc.command + "><-f><access.yaml><--cluster><prod><--region><eu-west-1>"
		if tc.clusters != "" {
			wantArgs = "<" + tc.command + "><-f><access.yaml><--cluster><prod><--clusters><" + tc.clusters + "><--region><eu-west-1>"
		}
		wantArgs += tc.wantArgs // args, word by word
		for _, want := range []string{wantArgs + "\n", "stderr line"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("%s: log lacks %q:\n%s", name, want, out)
			}
			if b, _ := os.ReadFile(summary); !strings.Contains(string(b), want) {
				t.Errorf("%s: job summary lacks %q:\n%s", name, want, b)
			}
		}
		if b, _ := os.ReadFile(outputs); string(b) != "exit-code="+tc.stubExit+"\n" {
			t.Errorf("%s: outputs = %q", name, b)
		}
		for d, want := range map[string]int{work: 2, tmp: 0} {
			if ents, _ := os.ReadDir(d); len(ents) != want {
				t.Errorf("%s: %s holds %d files after the step, want %d", name, d, len(ents), want)
			}
		}
	}
}

// The matrix snippet in README's Fleets section is a workflow that would
// run: runners, checkout, OIDC permissions, a job name per cluster, the list
// step that fails with iammap, and the action at a full version.
func TestReadmeFleetSnippet(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i := strings.Index(readme, "The CI system can be the distributed engine instead")
	if i < 0 {
		t.Fatal("README has no fleet CI snippet")
	}
	rest := readme[i:]
	start := strings.Index(rest, "```yaml\n")
	end := strings.Index(rest[start+8:], "```")
	if start < 0 || end < 0 {
		t.Fatal("README fleet snippet: no yaml block")
	}
	var wf map[string]any
	if err := yaml.Unmarshal([]byte(rest[start+8:start+8+end]), &wf); err != nil {
		t.Fatalf("README fleet snippet: %v", err)
	}
	if dig(wf, "permissions", "id-token") != "write" || dig(wf, "permissions", "contents") != "read" {
		t.Errorf("README snippet permissions = %v", dig(wf, "permissions"))
	}
	if dig(wf, "jobs", "access", "name") != "${{ matrix.cluster }}" {
		t.Errorf("README snippet matrix job name = %v", dig(wf, "jobs", "access", "name"))
	}
	for _, job := range []string{"clusters", "access"} {
		if dig(wf, "jobs", job, "runs-on") == nil {
			t.Errorf("README snippet job %s has no runs-on", job)
		}
		steps, _ := dig(wf, "jobs", job, "steps").([]any)
		if len(steps) == 0 || dig(steps[0], "uses") != "actions/checkout@v4" {
			t.Errorf("README snippet job %s does not check out first", job)
		}
		for _, s := range steps {
			if u, _ := dig(s, "uses").(string); strings.HasPrefix(u, "iammap/iammap@") && !pinnedAction.MatchString(u) {
				t.Errorf("README snippet uses %s, not a full version", u)
			}
		}
	}
	steps, _ := dig(wf, "jobs", "clusters", "steps").([]any)
	if !slices.ContainsFunc(steps, func(s any) bool {
		return dig(s, "run") == `m=$(iammap clusters -f access.yaml -o json) && echo "clusters=$m" >> "$GITHUB_OUTPUT"`
	}) {
		t.Error("README snippet: the list step is not the one that fails with iammap")
	}
	if strings.Contains(readme, "iammap/iammap@v1\n") || strings.Contains(readme, "iammap/iammap@v1 ") {
		t.Error("README uses the action at a major tag")
	}
}

// Every CI example is YAML, and none installs a moving iammap version.
func TestCIExamplesParseAndPin(t *testing.T) {
	files, err := filepath.Glob("examples/ci/*.yaml")
	if err != nil || len(files) < 5 {
		t.Fatalf("examples/ci: %v %v", files, err)
	}
	moving := regexp.MustCompile(`iammap/iammap@(latest|v[0-9]+)\s`)
	for _, f := range files {
		loadYAML(t, f)
		b, _ := os.ReadFile(f)
		for _, line := range strings.Split(string(b), "\n") {
			if code, _, _ := strings.Cut(line, "#"); moving.MatchString(code + " ") {
				t.Errorf("%s: %q installs a moving version", f, strings.TrimSpace(line))
			}
		}
	}
}
