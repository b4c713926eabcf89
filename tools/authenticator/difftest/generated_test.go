package difftest

import (
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/iammap/iammap/awsauth"
)

// TestDifferentialGenerated compares both sides on aws-auths put together
// at random from the pieces the corpus has one class at a time: ARNs in
// every spelling (case, Unicode folds, paths, wildcards, other partitions
// and services), entries with fields missing, misspelt or of the wrong type,
// sso blocks, templates, duplicates, odd mapAccounts items. The seed is
// fixed, so a failure reproduces; IAMMAP_DIFF_GENERATED=N runs N aws-auths
// instead of the default 500 (with a seed of its own when N is prefixed
// with "r": r100000).
func TestDifferentialGenerated(t *testing.T) {
	n, seed := 500, uint64(1)
	if v := os.Getenv("IAMMAP_DIFF_GENERATED"); v != "" {
		if strings.HasPrefix(v, "r") {
			v, seed = v[1:], rand.Uint64()
		}
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 0 {
			t.Fatalf("IAMMAP_DIFF_GENERATED=%q: want a number of aws-auths, optionally prefixed with r", os.Getenv("IAMMAP_DIFF_GENERATED"))
		}
	}
	t.Logf("%d aws-auths from seed %d", n, seed)
	knownIdx := newKnownSet(t, loadCorpus(t))
	allowKnownDiffs := allowKnown(t)
	g := generator{rand.New(rand.NewPCG(seed, 0))}
	compared, failed := 0, 0
	for i := 0; i < n && failed < 10; i++ {
		data := g.awsAuth()
		set := awsauth.Decode(data).Set()
		for _, c := range pool(data, set) {
			cmp, ok := compare(data, set, c)
			if !ok {
				continue
			}
			compared++
			if v, _ := judge(t, cmp, knownIdx, true, allowKnownDiffs); v == unexpected || (v == known && !allowKnownDiffs) {
				failed++
				break
			}
		}
	}
	t.Logf("%d comparisons", compared)
}

type generator struct{ r *rand.Rand }

func pick[T any](g generator, xs ...T) T { return xs[g.r.IntN(len(xs))] }

func (g generator) awsAuth() map[string]string {
	// A few names per aws-auth, so that entries collide.
	names := []string{g.name(), g.name(), g.name()}
	var roles, users strings.Builder
	for range g.r.IntN(5) {
		roles.WriteString(g.entry(true, names))
	}
	for range g.r.IntN(5) {
		users.WriteString(g.entry(false, names))
	}
	var accounts strings.Builder
	for range g.r.IntN(4) {
		accounts.WriteString("- " + pick(g, "'111122223333'", "111122223333", "444455556666", "1.11122223333e+11",
			"!!binary MTExMTIyMjIzMzMz", "{a: 1}", "[1]", "~", "011112222333", "'44445555666'") + "\n")
	}
	return map[string]string{"mapRoles": roles.String(), "mapUsers": users.String(), "mapAccounts": accounts.String()}
}

func (g generator) name() string {
	return pick(g, "dev", "Dev", "DEV", "\u212Aube", "kube", "Kube", "\u017fam", "sam", "Sam", "nodes", "Nodes",
		"admin", "*", "?dmin", "İnfra", "infra", "x@y", "AWSReservedSSO_Admin_0123456789abcdef")
}

func (g generator) arn(names []string) string {
	account := pick(g, "111122223333", "111122223333", "444455556666", "*", "11112222333")
	partition := pick(g, "aws", "aws", "aws", "aws-cn", "AWS", "aw\u017f", "aws-mars")
	prefix := pick(g, "arn", "arn", "arn", "ARN")
	service := pick(g, "iam", "iam", "IAM", "sts")
	name := pick(g, names...)
	var resource string
	switch g.r.IntN(9) {
	case 0, 1, 2:
		resource = pick(g, "role", "role", "ROLE") + "/" + name
	case 3:
		resource = pick(g, "role/p/", "role/aws-reserved/sso.amazonaws.com/") + name
	case 4, 5:
		resource = pick(g, "user", "user", "USER") + "/" + name
	case 6:
		resource = pick(g, "user/p/", "user/P/", "user/a//b/") + name
	case 7:
		resource = pick(g, "root", "ROOT", "root/")
	default:
		resource = pick(g, "federated-user/", "assumed-role/") + name + pick(g, "", "/ci-run")
	}
	return prefix + ":" + partition + ":" + service + "::" + account + ":" + resource
}

func (g generator) scalar() string {
	return pick(g, "admin", "alice", "'{{SessionName}}'", "\"{{SessionNameRaw}}\"", "'{{EC2PrivateDNSName}}'",
		"system:node:{{EC2PrivateDNSName}}", "'{{AccessKeyID}}'", "'{{Access{{SessionName}}KeyID}}'", "1001", "yes", "~",
		"''", "'{{AccountID}}-{{SessionName}}'", "system:masters", "[x]", "{a: b}", "!!binary YWRtaW4=")
}

func (g generator) groups() string {
	switch g.r.IntN(7) {
	case 0:
		return ""
	case 1:
		return "[]"
	case 2:
		return "system:masters"
	case 3:
		return "[" + g.scalar() + "]"
	case 4:
		return "[" + g.scalar() + ", " + g.scalar() + "]"
	case 5:
		return "[a, 1]"
	}
	return "[system:nodes, 'node:{{EC2PrivateDNSName}}']"
}

func (g generator) entry(roles bool, names []string) string {
	var fields []string
	arnKey := "userarn"
	if roles {
		arnKey = "rolearn"
	}
	switch g.r.IntN(10) {
	case 0: // no ARN
	case 1:
		fields = append(fields, "sso: {permissionSetName: "+pick(g, "Admin", "'a b'", "X")+", accountID: "+
			pick(g, "'111122223333'", "111122223333", "'1'")+pick(g, "", ", partition: aws", ", partition: aws-cn", ", partition: mars")+"}")
	case 2:
		fields = append(fields, pick(g, "RoleArn", "ROLEARN", "UserArn", "userARN")+": "+g.arn(names))
	case 3:
		fields = append(fields, arnKey+": "+pick(g, "1", "[x]", "~"))
	default:
		fields = append(fields, arnKey+": "+g.arn(names))
	}
	if g.r.IntN(8) == 0 {
		fields = append(fields, "sso: "+pick(g, "Admin", "{}", "~", "[a]"))
	}
	if g.r.IntN(6) != 0 {
		fields = append(fields, pick(g, "username", "username", "UserName", "USERNAME")+": "+g.scalar())
	}
	if groups := g.groups(); groups != "" {
		fields = append(fields, "groups: "+groups)
	}
	g.r.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })
	switch {
	case len(fields) == 0:
		return "- {}\n"
	case g.r.IntN(4) == 0:
		return "- {" + strings.Join(fields, ", ") + "}\n"
	}
	return "- " + strings.Join(fields, "\n  ") + "\n"
}
