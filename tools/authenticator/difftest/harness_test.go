package difftest

import (
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/iammap/iammap/mapping"
	"github.com/sirupsen/logrus"
	"sigs.k8s.io/aws-iam-authenticator/pkg/mapper/configmap"

	"iammap/tools/authenticator/oracle"
)

func init() {
	// configmap.ParseMap logs every parse error through logrus: at thousands
	// of fuzz inputs a second the tests would mostly write to stderr.
	logrus.SetOutput(io.Discard)
}

// Access key ids the callers sign with: {{AccessKeyID}} renders to them.
const (
	sessionKeyID = "ASIAEXAMPLESESSION1"
	userKeyID    = "AKIAEXAMPLEUSERKEY1"
)

// caller is one STS GetCallerIdentity answer (Arn, Account, UserId) and the
// access key id the caller's token was signed with.
type caller struct {
	ARN, Account, UserID, AccessKeyID string
}

func (c caller) String() string {
	return fmt.Sprintf("%s (account %s, userId %s, access key %s)", c.ARN, c.Account, c.UserID, c.AccessKeyID)
}

// stsCaller is the answer STS gives along with an ARN: the ARN's account,
// a userId of the shape STS uses for that kind of principal (ROLEID:SESSION
// for an assumed role, ACCOUNT:NAME for a federated user, the account id for
// the root user, an AIDA id for a user), and an access key of the matching
// kind (ASIA for temporary credentials, AKIA for long-term ones).
func stsCaller(arnValue string) caller {
	f := strings.SplitN(arnValue, ":", 6)
	for len(f) < 6 {
		f = append(f, "")
	}
	c := caller{ARN: arnValue, Account: f[4], UserID: "AIDAEXAMPLEUSER", AccessKeyID: userKeyID}
	switch res := f[5]; {
	case strings.HasPrefix(res, "assumed-role/"):
		c.UserID = "AROAEXAMPLE:" + res[strings.LastIndex(res, "/")+1:]
		c.AccessKeyID = sessionKeyID
	case strings.HasPrefix(res, "federated-user/"):
		c.UserID = c.Account + ":" + strings.TrimPrefix(res, "federated-user/")
		c.AccessKeyID = sessionKeyID
	case res == "root":
		c.UserID = c.Account
	}
	return c
}

// What STS can put in an ARN (IAM's limits on names, paths and sessions).
// Go's \w is ASCII only, as IAM's.
var (
	accountRe     = regexp.MustCompile(`^[0-9]{12}$`)
	assumedRoleRe = regexp.MustCompile(`^assumed-role/[\w+=,.@-]{1,64}/[\w+=,.@-]{2,64}$`)
	userRe        = regexp.MustCompile(`^user/([\x21-\x7f]{0,510}/)?[\w+=,.@-]{1,64}$`)
	federatedRe   = regexp.MustCompile(`^federated-user/[\w+=,.@-]{2,32}$`)
)

// anyCaller, set by IAMMAP_DIFF_ANY_CALLER=1, widens the callers compared
// to every ARN the authenticator accepts (arn.Canonicalize), whether or not
// STS can return it: a way to explore, not a test (iammap's CallerFor
// rightly refuses many of them).
var anyCaller = os.Getenv("IAMMAP_DIFF_ANY_CALLER") == "1"

// stsCanReturn reports whether STS can answer GetCallerIdentity with this
// ARN: the authenticator accepts it (arn.Canonicalize, through
// oracle.FromSTS) and it is of the form STS uses, with names IAM allows.
// Only such callers are compared: for a string STS never returns, what
// iammap says does not matter.
func stsCanReturn(c caller) bool {
	if _, err := oracle.FromSTS(c.ARN, c.Account, c.UserID, c.AccessKeyID); err != nil {
		return false
	}
	if anyCaller {
		return true
	}
	f := strings.SplitN(c.ARN, ":", 6)
	if len(f) != 6 || f[0] != "arn" || f[3] != "" || !accountRe.MatchString(f[4]) || f[4] != c.Account {
		return false
	}
	switch service, res := f[2], f[5]; {
	case service == "iam" && res == "root":
		return true
	case service == "iam":
		return userRe.MatchString(res)
	case service == "sts" && strings.HasPrefix(res, "federated-user/"):
		return federatedRe.MatchString(res)
	case service == "sts":
		return assumedRoleRe.MatchString(res)
	}
	return false
}

// sessions are the role sessions every role is tried with: an EC2 instance
// id (17 characters), one with '@' ({{SessionName}} turns it into '-',
// {{SessionNameRaw}} keeps it), and a plain one.
var sessions = []string{"i-0123456789abcdef0", "jane@example.com", "ci-run"}

// fixedCallers are in every pool: a node (instance-id session), a user,
// the account root and a federated user.
var fixedCallers = []string{
	"arn:aws:sts::111122223333:assumed-role/nodes/i-0123456789abcdef0",
	"arn:aws:iam::111122223333:user/alice",
	"arn:aws:iam::111122223333:root",
	"arn:aws:sts::111122223333:federated-user/bob",
}

// arnLikeRe finds ARN-like strings in raw text, also where the YAML does not
// parse.
var arnLikeRe = regexp.MustCompile(`(?i)arn:[^\s"'\[\]{},]+`)

// pool is every caller derived from an aws-auth's data, sorted by ARN: the
// fixed callers, the callers every ARN-like string in it could stand for,
// and callers in every account mapAccounts lists (or looks like it means).
// It depends on the data only, so a fuzz input's selector always picks the
// same caller.
func pool(data map[string]string, set mapping.Set) []caller {
	arns, accounts := candidates(data, set)
	seen := map[string]bool{}
	var out []caller
	add := func(arnValue string) {
		if seen[arnValue] {
			return
		}
		seen[arnValue] = true
		if c := stsCaller(arnValue); stsCanReturn(c) {
			out = append(out, c)
		}
	}
	for _, a := range fixedCallers {
		add(a)
	}
	for _, s := range arns {
		if anyCaller {
			add(s)
		}
		for _, a := range callerARNs(s) {
			add(a)
		}
	}
	for _, v := range accounts {
		for _, account := range accountGuesses(v) {
			add("arn:aws:sts::" + account + ":assumed-role/dev/ci-run")
			add("arn:aws:iam::" + account + ":user/alice")
			add("arn:aws:iam::" + account + ":root")
		}
	}
	slices.SortFunc(out, func(a, b caller) int { return strings.Compare(a.ARN, b.ARN) })
	return out
}

// candidates collects the ARN-like strings and mapAccounts values of an
// aws-auth, as both sides read them and as the raw text has them.
func candidates(data map[string]string, set mapping.Set) (arns, accounts []string) {
	for _, text := range data { // every key: the fixtures spell them oddly
		arns = append(arns, arnLikeRe.FindAllString(text, -1)...)
	}
	ssoRole := func(partition, account, permissionSet string) string {
		if partition == "" {
			partition = "aws"
		}
		return "arn:" + partition + ":iam::" + account + ":role/AWSReservedSSO_" + permissionSet + "_0123456789abcdef"
	}
	for _, m := range append(slices.Clone(set.Roles), set.Users...) {
		arns = append(arns, m.ARN)
		if m.SSO != nil {
			arns = append(arns, ssoRole(m.SSO.Partition, m.SSO.AccountID, m.SSO.PermissionSetName))
		}
	}
	accounts = append(accounts, set.Accounts...)
	users, roles, accs, _ := configmap.ParseMap(data)
	for _, u := range users {
		arns = append(arns, u.UserARN)
	}
	for _, r := range roles {
		arns = append(arns, r.RoleARN)
		if r.SSO != nil {
			arns = append(arns, ssoRole(r.SSO.Partition, r.SSO.AccountID, r.SSO.PermissionSetName))
		}
	}
	accounts = append(accounts, accs...)
	return arns, accounts
}

// callerARNs are the ARNs STS could return for callers an ARN-like string s
// stands for: s with its fixed parts lower-cased ("ARN:AWS:IAM" is written
// by hand, STS returns lower case), non-ASCII letters folded to the ASCII
// letters EqualFold equates them with (IAM names are ASCII), names in other
// cases, and wildcards replaced by a name they would match if they were
// wildcards. A role (or an assumed role) becomes a session of it for each
// of [sessions]; a role's path is dropped, as STS drops it. Strings STS
// cannot return are filtered out later.
func callerARNs(s string) []string {
	f := strings.SplitN(s, ":", 6)
	if len(f) != 6 || !strings.EqualFold(f[0], "arn") {
		return nil
	}
	partition := strings.ToLower(foldASCII(f[1]))
	account := foldASCII(f[4])
	typ, rest, _ := strings.Cut(f[5], "/")
	prefix := "arn:" + partition
	var out []string
	switch strings.ToLower(foldASCII(typ)) {
	case "root":
		out = append(out, prefix+":iam::"+account+":root")
	case "user":
		for _, v := range variants(rest) {
			out = append(out, prefix+":iam::"+account+":user/"+v)
		}
	case "federated-user":
		for _, v := range variants(rest) {
			out = append(out, prefix+":sts::"+account+":federated-user/"+v)
		}
	case "role", "assumed-role":
		name, session := rest, ""
		if strings.EqualFold(typ, "assumed-role") {
			if i := strings.LastIndex(rest, "/"); i >= 0 {
				name, session = rest[:i], rest[i+1:]
			}
		}
		name = name[strings.LastIndex(name, "/")+1:]
		ss := sessions
		if session != "" {
			ss = append([]string{session}, sessions...)
		}
		for _, v := range variants(name) {
			for _, sess := range ss {
				out = append(out, prefix+":sts::"+account+":assumed-role/"+v+"/"+sess)
			}
		}
	}
	return out
}

// variants of a name: as written, ASCII-folded, in lower and upper case,
// and with '*' and '?' replaced by what they would match as wildcards.
func variants(name string) []string {
	a := foldASCII(name)
	vs := []string{name, a, strings.ToLower(a), strings.ToUpper(a), strings.NewReplacer("*", "Admin", "?", "a").Replace(a)}
	slices.Sort(vs)
	return slices.Compact(vs)
}

// foldASCII replaces each non-ASCII rune that strings.EqualFold equates with
// an ASCII one (the Kelvin sign K with K, long s ſ with s) by that ASCII
// rune.
func foldASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if r < utf8.RuneSelf {
			return r
		}
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < utf8.RuneSelf {
				return f
			}
		}
		return r
	}, s)
}

// accountGuesses are the 12-digit accounts a mapAccounts value means or may
// have been meant as: itself, a shorter number padded with the zeros a YAML
// reader dropped, a float an account id was turned into.
func accountGuesses(v string) []string {
	v = strings.TrimSpace(v)
	if accountRe.MatchString(v) {
		return []string{v}
	}
	if v != "" && len(v) < 12 && strings.Trim(v, "0123456789") == "" {
		return []string{strings.Repeat("0", 12-len(v)) + v}
	}
	if x, err := strconv.ParseFloat(v, 64); err == nil && x >= 0 && x < 1e12 && x == math.Trunc(x) {
		return []string{fmt.Sprintf("%012.0f", x)}
	}
	return nil
}

// outcome is what a caller gets, in the terms both sides share: the
// refusal texts differ, only whether there is one is compared.
type outcome struct {
	Mapped   bool
	Refused  bool
	Username string
	Groups   []string
}

func (o outcome) String() string {
	var parts []string
	switch {
	case o.Refused:
		parts = append(parts, "refused")
	case o.Mapped:
		parts = append(parts, "mapped")
	default:
		parts = append(parts, "not mapped")
	}
	if o.Mapped || o.Username != "" || len(o.Groups) > 0 {
		parts = append(parts, fmt.Sprintf("username=%q groups=%q", o.Username, o.Groups))
	}
	if o.Mapped && o.Refused {
		parts = append(parts, "(mapped and refused)")
	}
	return strings.Join(parts, " ")
}

func compareOutcome(a, b outcome) int {
	if c := compareBool(a.Mapped, b.Mapped); c != 0 {
		return c
	}
	if c := compareBool(a.Refused, b.Refused); c != 0 {
		return c
	}
	if c := strings.Compare(a.Username, b.Username); c != 0 {
		return c
	}
	return slices.Compare(a.Groups, b.Groups)
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

// outcomeSet sorts and de-duplicates, with nil groups as empty.
func outcomeSet(os []outcome) []outcome {
	for i := range os {
		if os[i].Groups == nil {
			os[i].Groups = []string{}
		}
	}
	slices.SortFunc(os, compareOutcome)
	return slices.CompactFunc(os, func(a, b outcome) bool { return compareOutcome(a, b) == 0 })
}

// comparison is one caller's answer from both sides.
type comparison struct {
	Data   map[string]string
	Caller caller

	Oracle       []outcome
	OracleDetail []string // refusal texts
	OracleID     string   // canonical ARN, account, session

	IAMMap       []outcome
	IAMMapDetail []string // what decided each outcome, refusal texts
	IAMMapID     string
	IAMMapErr    error // mapping.CallerFor failed
}

// compare asks both sides what the caller becomes. ok is false when the
// authenticator does not take the caller at all (oracle.FromSTS fails).
func compare(data map[string]string, set mapping.Set, c caller) (cmp comparison, ok bool) {
	cmp = comparison{Data: data, Caller: c}
	id, err := oracle.FromSTS(c.ARN, c.Account, c.UserID, c.AccessKeyID)
	if err != nil {
		return cmp, false
	}
	cmp.OracleID = fmt.Sprintf("canonical %s, account %s, session %q", id.CanonicalARN, id.AccountID, id.SessionName)
	outs, _ := oracle.Decide(data, id, nil)
	for _, o := range outs {
		cmp.Oracle = append(cmp.Oracle, outcome{Mapped: o.Mapped, Refused: o.Refused != "", Username: o.Username, Groups: slices.Clone(o.Groups)})
		if o.Refused != "" {
			cmp.OracleDetail = append(cmp.OracleDetail, o.Refused)
		}
	}
	cmp.Oracle = outcomeSet(cmp.Oracle)

	mc, err := mapping.CallerFor(c.ARN, "")
	switch {
	case err != nil && anyCaller:
		// Exploring: resolve as iammap would if it took the caller.
		mc = mapping.Caller{CanonicalARN: id.CanonicalARN, AccountID: id.AccountID, SessionName: id.SessionName}
	case err != nil:
		cmp.IAMMapErr = err
		return cmp, true
	}
	mc.AccessKeyID = c.AccessKeyID
	if mapping.IsInstanceID(mc.SessionName) {
		mc.EC2PrivateDNSName = "ip-" + mc.SessionName + ".ec2.internal"
	}
	mc.AnySession = false
	cmp.IAMMapID = fmt.Sprintf("canonical %s, account %s, session %q", mc.CanonicalARN, mc.AccountID, mc.SessionName)
	ident := mapping.Access{Mode: mapping.ModeConfigMap, AWSAuth: set}.Identify(c.ARN, mc)
	for _, o := range ident.Outcomes() {
		cmp.IAMMap = append(cmp.IAMMap, outcome{Mapped: o.Mapped, Refused: o.Refused != "", Username: o.Username, Groups: slices.Clone(o.Groups)})
		detail := o.Via
		if o.Refused != "" {
			detail += ": " + o.Refused
		}
		cmp.IAMMapDetail = append(cmp.IAMMapDetail, detail)
	}
	cmp.IAMMap = outcomeSet(cmp.IAMMap)
	return cmp, true
}

// differs reports whether iammap's answer is not the authenticator's: other
// outcomes, or another view of the caller (canonical ARN, account, session).
func (c comparison) differs() bool {
	return c.IAMMapErr != nil || c.OracleID != c.IAMMapID ||
		!slices.EqualFunc(c.Oracle, c.IAMMap, func(a, b outcome) bool { return compareOutcome(a, b) == 0 })
}

// report is a readable account of a difference: the data, the caller, both
// answers, and the data again as Go literals to paste into a reproducer.
func (c comparison) report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "caller %s\n", c.Caller)
	b.WriteString("aws-auth data:\n")
	if c.Data == nil {
		b.WriteString("  (no aws-auth)\n")
	}
	for _, key := range []string{"mapRoles", "mapUsers", "mapAccounts"} {
		text, ok := c.Data[key]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "  %s: |\n", key)
		for line := range strings.SplitSeq(strings.TrimSuffix(text, "\n"), "\n") {
			fmt.Fprintf(&b, "    %s\n", line)
		}
	}
	fmt.Fprintf(&b, "authenticator (%s):\n", c.OracleID)
	for _, o := range c.Oracle {
		fmt.Fprintf(&b, "  %s\n", o)
	}
	for _, d := range c.OracleDetail {
		fmt.Fprintf(&b, "    %s\n", d)
	}
	if c.IAMMapErr != nil {
		fmt.Fprintf(&b, "iammap: mapping.CallerFor: %v\n", c.IAMMapErr)
	} else {
		fmt.Fprintf(&b, "iammap (%s):\n", c.IAMMapID)
		for _, o := range c.IAMMap {
			fmt.Fprintf(&b, "  %s\n", o)
		}
		for _, d := range c.IAMMapDetail {
			fmt.Fprintf(&b, "    %s\n", d)
		}
	}
	fmt.Fprintf(&b, "reproduce: data %#v, caller %#v", c.Data, c.Caller)
	return b.String()
}

// dataKey identifies an aws-auth's content as both sides read it: an absent
// key reads as an empty one.
func dataKey(data map[string]string) string {
	return data["mapRoles"] + "\x00" + data["mapUsers"] + "\x00" + data["mapAccounts"]
}
