// Package app is iammap's command line: flag parsing, output and exit codes.
// Each command parses its flags into a struct and makes one call below it
// (internal/cluster for anything that routes, guards or converges; awsauth,
// accessentry, explain, audit, migrate), then renders the result through
// internal/output; nothing here decides what a mapping means.
//
// Data goes to stdout; messages go to stderr as "iammap: ...", warnings as
// "iammap: warning: ...", and a failure as one "iammap: error: ..." line,
// sometimes followed by "iammap: hint: ..." saying what to do next. Only
// [Main] turns an error into an exit code.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/cluster"
	"github.com/iammap/iammap/internal/output"
	"github.com/urfave/cli/v2"
)

// Version is set at build time with -ldflags "-X github.com/iammap/iammap/app.Version=v1.2.3".
var Version = ""

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// Global flags are accepted before and after the command name.
func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "kubeconfig", Usage: "kubeconfig `FILE` (default: $KUBECONFIG, then ~/.kube/config)"},
		&cli.StringFlag{Name: "context", Usage: "kubeconfig context to use (default: the current context)"},
		&cli.BoolFlag{Name: "dry-run", Usage: "show the change as a diff and write nothing (the API server still checks permissions)"},
		&cli.GenericFlag{Name: "verbose", Aliases: []string{"v"}, Value: &verbosity{level: levelInfo},
			Usage: "how much to say on stderr, as eksctl's -v `LEVEL`: 0 silent, 1 critical, 2 warnings, 3 info (default), 4 debug (each step), 5 debug as well; --verbose alone is 4"},
		&cli.DurationFlag{Name: "timeout", Value: defaultTimeout, Usage: "give up on the command, including any wait for EKS, after this long (eksctl's default)"},
	}
}

// defaultTimeout is eksctl's --timeout default.
const defaultTimeout = 25 * time.Minute

// bounded runs each command's action under --timeout, as eksctl bounds its
// commands, so waits (auth-mode --wait, migrate's mode switch) end.
func bounded(cmds []*cli.Command) {
	for _, cmd := range cmds {
		bounded(cmd.Subcommands)
		action := cmd.Action
		if action == nil {
			continue
		}
		cmd.Action = func(c *cli.Context) error {
			d := flagDuration(c, "timeout")
			if d <= 0 {
				return badFlags("--timeout %s: want a positive duration such as 25m", d)
			}
			ctx, cancel := context.WithTimeout(c.Context, d)
			defer cancel()
			backup, err := backupOptions(c)
			if err != nil {
				return err
			}
			c.Context = awsauth.WithBackupOptions(ctx, backup)
			err = action(c)
			if err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
				err = fmt.Errorf("gave up after --timeout %s: %w", d, err)
				var h *cluster.HintError
				if errors.As(err, &h) {
					return err // the operation's own next step
				}
				if slices.Contains([]string{"auth-mode", "migrate", "update-authentication-mode"}, c.Command.Name) {
					return withHint(err, "a change EKS had accepted may still be in progress: check with `iammap auth-mode`, or pass a longer --timeout")
				}
				return withHint(err, "run the command again (it re-reads and converges), or pass a longer --timeout")
			}
			return err
		}
	}
}

// writesAWSAuth are the commands that may write aws-auth, and so take the
// backup flags.
var writesAWSAuth = []string{"create", "delete", "apply", "rollback"}

func backupFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "backup-to", Value: string(awsauth.BackupConfigMap),
			Usage: "where to save the aws-auth content a write replaces, `MODE`: configmap (in kube-system; a file if that is forbidden), file, or none"},
		&cli.StringFlag{Name: "backup-file", Usage: "with --backup-to file (implied), save to `PATH`, a new file (default: a new file under $XDG_STATE_HOME/iammap/backups)"},
	}
}

// backupOptions reads the backup flags; commands without them get the
// default, which only matters if they write aws-auth after all.
func backupOptions(c *cli.Context) (awsauth.BackupOptions, error) {
	to, err := awsauth.ParseBackupTo(flagString(c, "backup-to"))
	if err != nil {
		return awsauth.BackupOptions{}, badFlags("%v", err)
	}
	file := flagString(c, "backup-file")
	if file != "" && !isSet(c, "backup-to") {
		to = awsauth.BackupFile
	}
	if file != "" && to == awsauth.BackupNone {
		return awsauth.BackupOptions{}, badFlags("--backup-file with --backup-to none: pick one")
	}
	return awsauth.BackupOptions{To: to, File: file, Warn: newUI(c).warn}, nil
}

func isSet(c *cli.Context, name string) bool {
	for _, cc := range c.Lineage() {
		if cc.IsSet(name) {
			return true
		}
	}
	return false
}

// New builds the iammap command line writing to stdout and stderr.
func New(stdout, stderr io.Writer) *cli.App {
	// urfave/cli's default --version flag takes -v, which is eksctl's
	// --verbose; --version keeps its long name only (and `iammap version`).
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version", DisableDefaultText: true}
	app := &cli.App{
		Name:                 "iammap",
		Usage:                "map AWS IAM identities to Kubernetes users and groups on EKS",
		Version:              version(),
		Writer:               stdout,
		ErrWriter:            stderr,
		Flags:                globalFlags(),
		EnableBashCompletion: true,
		HideHelpCommand:      true,
		// Errors are printed once, by Main; urfave/cli must not exit or print.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   usageError,
		Commands: []*cli.Command{
			createCommand(),
			getCommand(),
			deleteCommand(),
			diffCommand(),
			applyCommand(),
			clustersCommand(),
			migrateCommand(),
			rollbackCommand(),
			auditCommand(),
			explainCommand(),
			authModeCommand(),
			tokenCommand(),
			utilsCommand(),
			versionCommand(),
			completionCommand(),
		},
	}
	app.Commands = append(app.Commands[:len(app.Commands)-1], append(policyCommands(), app.Commands[len(app.Commands)-1])...)
	app.Flags = append(app.Flags, awsFlags()...)
	for _, c := range app.Commands {
		c.Flags = append(append(c.Flags, globalFlags()...), awsFlags()...)
		c.OnUsageError = usageError
		for _, s := range c.Subcommands {
			s.Flags = append(append(s.Flags, globalFlags()...), awsFlags()...)
			s.OnUsageError = usageError
		}
	}
	for _, c := range app.Commands {
		// Before addNouns, which copies the flags to the nouns.
		if slices.Contains(writesAWSAuth, c.Name) {
			c.Flags = append(c.Flags, backupFlags()...)
		}
		switch c.Name {
		case "create", "get", "delete":
			addNouns(c)
		}
	}
	bounded(app.Commands)
	return app
}

// eksctl's nouns, as subcommands of create, get and delete: the same
// command, flags and action with the backend fixed.
var nouns = []struct {
	name    string
	backend cluster.Backend
	what    string
}{
	{"iamidentitymapping", cluster.BackendAWSAuth, "`eksctl %s iamidentitymapping`: aws-auth only (--backend aws-auth)"},
	{"accessentry", cluster.BackendAccessEntry, "`eksctl %s accessentry`: access entries only (--backend access-entry)"},
}

// addNouns gives cmd eksctl's nouns: `iammap create iamidentitymapping ...`
// runs cmd's action with --backend aws-auth. --backend may be repeated on
// the noun only with the value the noun implies. The nouns also take
// eksctl's -f/--config-file (eksctlfile.go).
func addNouns(cmd *cli.Command) {
	for _, n := range nouns {
		sub := *cmd
		sub.Name, sub.Subcommands = n.name, nil
		sub.Usage = fmt.Sprintf(n.what, cmd.Name)
		sub.Flags = []cli.Flag{configFileFlag()}
		for _, f := range cmd.Flags {
			if slices.Contains(f.Names(), "backend") {
				f = &cli.StringFlag{Name: "backend", Value: string(n.backend), Hidden: true}
			}
			sub.Flags = append(sub.Flags, f)
		}
		action, backend := cmd.Action, string(n.backend)
		sub.Action = func(c *cli.Context) error {
			if got := c.String("backend"); got != backend {
				return badFlags("%s %s uses the %s backend; --backend %s contradicts it", cmd.Name, c.Command.Name, backend, got)
			}
			if c.String("config-file") != "" {
				return runConfigFile(c, cmd.Name, cluster.Backend(backend), action)
			}
			return action(c)
		}
		cmd.Subcommands = append(cmd.Subcommands, &sub)
	}
	cmd.HideHelpCommand = true
}

// versionCommand prints what --version prints, as `eksctl version` does.
func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print iammap's version (as --version)",
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return badFlags("unexpected argument %q", c.Args().First())
			}
			cli.ShowVersion(c)
			return nil
		},
	}
}

// Run runs iammap with args (args[0] is the program name).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return New(stdout, stderr).RunContext(ctx, joinVerboseLevel(args))
}

// Verbosity levels, eksctl's (1, critical, prints what 0 prints: errors).
const (
	levelWarning = 2
	levelInfo    = 3
	levelDebug   = 4
	levelMax     = 5
)

// verbosity is the value of -v/--verbose. It is a boolean flag to Go's flag
// package, so that `--verbose` alone (iammap's switch since its first
// release) still means debug, while `--verbose=N` and `-v=N` set a level;
// joinVerboseLevel turns eksctl's `-v N` into `-v=N` before parsing, which
// a boolean flag would otherwise leave as an argument.
type verbosity struct{ level int }

func (v *verbosity) Set(s string) error {
	switch s {
	case "true":
		v.level = levelDebug
		return nil
	case "false":
		v.level = levelInfo
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > levelMax {
		return fmt.Errorf("want a level from 0 to %d, as eksctl's -v, got %q", levelMax, s)
	}
	v.level = n
	return nil
}

func (v *verbosity) String() string {
	if v == nil {
		return strconv.Itoa(levelInfo)
	}
	return strconv.Itoa(v.level)
}

// IsBoolFlag lets `--verbose` stand alone (see verbosity).
func (v *verbosity) IsBoolFlag() bool { return true }

// joinVerboseLevel rewrites `-v N` and `--verbose N` (N a number) as
// `-v=N`, up to a "--". No iammap command takes a number as an argument, so
// a number after the flag can only be its level.
func joinVerboseLevel(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		out = append(out, a)
		if a == "--" {
			return append(out, args[i+1:]...)
		}
		if i == 0 || i+1 >= len(args) {
			continue
		}
		switch a {
		case "-v", "--v", "-verbose", "--verbose":
			if _, err := strconv.Atoi(args[i+1]); err == nil {
				out[len(out)-1] = a + "=" + args[i+1]
				i++
			}
		}
	}
	return out
}

// verboseLevel is the level from the innermost command that set it.
func verboseLevel(c *cli.Context) int {
	for _, cc := range c.Lineage() {
		if cc.IsSet("verbose") {
			if v, ok := cc.Generic("verbose").(*verbosity); ok {
				return v.level
			}
		}
	}
	return levelInfo
}

// Main runs iammap and returns the process exit code, printing any error.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := Run(ctx, args, stdout, stderr)
	if err == nil {
		return 0
	}
	var status exitStatus
	if errors.As(err, &status) {
		return int(status)
	}
	msg, hint := describe(err)
	// Errors quote ARNs, usernames and groups, which may hold control
	// characters (from aws-auth): escaped, as in tables.
	fmt.Fprintf(stderr, "iammap: error: %s\n", output.Safe(oneLine(msg)))
	if hint != "" {
		fmt.Fprintf(stderr, "iammap: hint: %s\n", output.Safe(oneLine(hint)))
	}
	var coder cli.ExitCoder
	if errors.As(err, &coder) && coder.ExitCode() != 0 {
		return coder.ExitCode()
	}
	return 1
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

func usageError(c *cli.Context, err error, _ bool) error {
	where := "iammap --help"
	var path []string
	for _, cc := range c.Lineage() {
		if cc.Command != nil && cc.Command.Name != "" && cc.Command.Name != c.App.Name && !slices.Contains(path, cc.Command.Name) {
			path = append([]string{cc.Command.Name}, path...)
		}
	}
	if len(path) > 0 {
		where = "iammap " + strings.Join(path, " ") + " --help"
	}
	msg := err.Error()
	if strings.Contains(msg, "want a level from") {
		// Go's flag package calls every value of a boolean flag boolean.
		msg = strings.Replace(msg, "invalid boolean value", "invalid value", 1)
	}
	return withHint(fmt.Errorf("%w: %s", errUsage, msg), "see "+where)
}

// flag returns a flag's value from the innermost command that set it, so
// global flags work before or after the command name.
func flagString(c *cli.Context, name string) string {
	for _, cc := range c.Lineage() {
		if cc.IsSet(name) {
			return cc.String(name)
		}
	}
	return c.String(name)
}

func flagDuration(c *cli.Context, name string) time.Duration {
	for _, cc := range c.Lineage() {
		if cc.IsSet(name) {
			return cc.Duration(name)
		}
	}
	return c.Duration(name)
}

func flagBool(c *cli.Context, name string) bool {
	for _, cc := range c.Lineage() {
		if cc.IsSet(name) {
			return cc.Bool(name)
		}
	}
	return false
}

// ui writes messages to stderr, as many as the verbosity level asks for;
// errors are not its business (Main prints them whatever the level).
type ui struct {
	stderr io.Writer
	level  int
	// prefix names the cluster in a fleet run ("cluster NAME: ").
	prefix string
}

func newUI(c *cli.Context) *ui {
	return &ui{stderr: c.App.ErrWriter, level: verboseLevel(c)}
}

func (u *ui) info(format string, a ...any) {
	if u.level >= levelInfo {
		fmt.Fprintln(u.stderr, output.SafeText("iammap: "+u.prefix+fmt.Sprintf(format, safeArgs(a)...)))
	}
}

func (u *ui) warn(format string, a ...any) {
	if u.level >= levelWarning {
		fmt.Fprintln(u.stderr, output.SafeText("iammap: warning: "+u.prefix+fmt.Sprintf(format, safeArgs(a)...)))
	}
}

func (u *ui) debug(format string, a ...any) {
	if u.level >= levelDebug {
		fmt.Fprintln(u.stderr, output.SafeText("iammap: "+u.prefix+fmt.Sprintf(format, safeArgs(a)...)))
	}
}

// safeArgs escapes every control character in the arguments of a message
// (servers' and files' text: ARNs, error messages, names), so only the
// message's own format may break a line: a server's "\n::error::..." stays
// on its line, escaped, and cannot start a CI workflow command.
func safeArgs(a []any) []any {
	out := make([]any, len(a))
	for i, v := range a {
		switch v := v.(type) {
		case string:
			out[i] = output.Safe(v)
		case error:
			out[i] = output.Safe(v.Error())
		case fmt.Stringer:
			out[i] = output.Safe(v.String())
		default:
			out[i] = v
		}
	}
	return out
}

// Note, Warn and Debug make ui the cluster.Reporter of the operations a
// command calls.
func (u *ui) Note(format string, a ...any)  { u.info(format, a...) }
func (u *ui) Warn(format string, a ...any)  { u.warn(format, a...) }
func (u *ui) Debug(format string, a ...any) { u.debug(format, a...) }
