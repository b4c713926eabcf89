package cluster

import (
	"errors"
	"fmt"
	"strings"

	"github.com/iammap/iammap/mapping"
)

// Backend is where a mapping lives: aws-auth or access entries. As a choice,
// BackendAuto (or "") lets the cluster's authentication mode decide.
type Backend string

const (
	BackendAuto        Backend = "auto"
	BackendAWSAuth     Backend = "aws-auth"
	BackendAccessEntry Backend = "access-entry"
)

// This file is the routing table: which mechanism a write goes to and
// which a read lists, for each authentication mode and --backend choice.
// cluster names the cluster in refusals; "" with mapping.ModeKubeconfig
// means no EKS cluster is known.

// explicitBackend checks a --backend the command line chose (or a noun
// implied): it is taken literally. force lets an aws-auth write through in
// API mode, where EKS ignores it.
func explicitBackend(cluster string, mode mapping.Mode, choice Backend, force bool) (Backend, error) {
	switch choice {
	case BackendAWSAuth:
		if mode == mapping.ModeAPI && !force {
			return "", WithHint(invalid("cluster %s is in API authentication mode: EKS ignores aws-auth, so this change would have no effect", cluster),
				"EKS reads only access entries there: use the accessentry noun (iammap create|delete accessentry), or leave out the noun and --backend, which is the default there; --force writes aws-auth anyway")
		}
		return BackendAWSAuth, nil
	case BackendAccessEntry:
		return BackendAccessEntry, RequireAccessEntries(cluster, mode)
	}
	return "", invalid("unknown --backend %q: use auto, aws-auth or access-entry", choice)
}

// ParseBackend checks a --backend value (or IAMMAP_BACKEND) before anything
// is contacted.
func ParseBackend(s string) (Backend, error) {
	switch b := Backend(s); b {
	case BackendAuto, "", BackendAWSAuth, BackendAccessEntry:
		return b, nil
	}
	return "", invalid("unknown --backend %q (or IAMMAP_BACKEND): use auto, aws-auth or access-entry", s)
}

// ReadBackends decides what a listing reads.
func ReadBackends(cluster string, mode mapping.Mode, choice Backend) (awsAuth, entries bool, err error) {
	switch choice {
	case BackendAWSAuth:
		return true, false, nil
	case BackendAccessEntry:
		return false, true, RequireAccessEntries(cluster, mode)
	case BackendAuto, "":
		switch mode {
		case mapping.ModeKubeconfig, mapping.ModeConfigMap:
			return true, false, nil
		case mapping.ModeAPI:
			return false, true, nil
		}
		return true, true, nil
	}
	return false, false, invalid("unknown --backend %q: use auto, aws-auth or access-entry", choice)
}

// RequireAccessEntries refuses a cluster without access entries: none
// known through EKS, or one in CONFIG_MAP mode.
func RequireAccessEntries(cluster string, mode mapping.Mode) error {
	if mode == mapping.ModeKubeconfig {
		return WithHint(invalid("access entries live in the EKS API: name the cluster"), "pass --cluster NAME (and --region), or set IAMMAP_CLUSTER")
	}
	if mode == mapping.ModeConfigMap {
		return WithHint(fmt.Errorf("cluster %s is in CONFIG_MAP authentication mode: it has no access entries", cluster),
			"switch it with `iammap auth-mode --set API_AND_CONFIG_MAP` (one way), or use --backend aws-auth")
	}
	return nil
}

// explicitWhy is the reason of a route the command line chose.
const explicitWhy = "asked for by the noun or --backend, so taken literally"

// Presence says where a principal is mapped before a write.
type Presence struct {
	// AccessEntry: the principal has an access entry.
	AccessEntry bool
	// AWSAuth: a mapRoles or mapUsers entry names the principal (mapAccounts
	// does not count: it names an account, not the principal).
	AWSAuth bool
}

// CreateIntent is what a create asks for, as far as routing cares.
type CreateIntent struct {
	// Principal is the ARN mapped; "" for --account and --service-name.
	Principal string
	// AWSAuthOnly names an option only aws-auth has (--account,
	// --service-name); EntryOnly the access-entry options that were set
	// (--type, --access-policy, --tag).
	AWSAuthOnly, EntryOnly string
	// Untranslatable is why the mapping has no access-entry form
	// (accessentry.FromAWSAuth's error); nil when it has one.
	Untranslatable error
	// Translation says what the access-entry form changes (for example
	// system:masters becoming AmazonEKSClusterAdminPolicy); empty when it
	// is the mapping as written.
	Translation []string
}

// Route is where a write goes, and why, in words a person reads.
type Route struct {
	Backend Backend
	// Translate: the access entry is the mapping's access-entry form
	// (accessentry.FromAWSAuth) rather than the flags as written, and
	// replaces the principal's entry (policies not in it are removed), as
	// a new aws-auth entry replaces the old one for its principal.
	Translate bool
	// Translation says what the access-entry form changes, even where the
	// route did not take it (an explicit --backend names it in refusals).
	Translation []string
	Why         string
}

// RouteCreate decides where a create goes. An explicit --backend is
// literal; auto routes by intent (README: "Where a change goes"):
//
//	kubeconfig only, CONFIG_MAP   aws-auth
//	API                           access entry, translated; refused without a form
//	API_AND_CONFIG_MAP:
//	  has an access entry         its access entry (an aws-auth write would be overridden)
//	  access-entry options        access entry
//	  only in aws-auth            aws-auth, where it lives
//	  new principal               access entry, translated; aws-auth without a form
//	  --account, --service-name   aws-auth
//
// at is only read in API_AND_CONFIG_MAP mode with a principal.
func RouteCreate(cluster string, mode mapping.Mode, choice Backend, force bool, in CreateIntent, at Presence) (Route, error) {
	translation := ""
	if len(in.Translation) > 0 {
		translation = " (" + strings.Join(in.Translation, "; ") + ")"
	}
	if choice != BackendAuto && choice != "" {
		b, err := explicitBackend(cluster, mode, choice, force)
		var h *HintError
		if errors.As(err, &h) && choice == BackendAWSAuth && in.Untranslatable == nil && in.AWSAuthOnly == "" {
			// Name what auto would do instead.
			err = WithHint(h.Err, "EKS reads only access entries there: leave out --backend and the iamidentitymapping noun, and iammap creates the access entry"+translation+"; --force writes aws-auth anyway")
		}
		return Route{Backend: b, Why: explicitWhy}, err
	}
	awsAuth := func(why string) (Route, error) {
		if in.EntryOnly != "" {
			return Route{Backend: BackendAWSAuth}, WithHint(invalid("%s only apply to access entries, and this change goes to aws-auth: %s", in.EntryOnly, why),
				"pass --cluster NAME for a cluster in API or API_AND_CONFIG_MAP mode, or use the accessentry noun")
		}
		return Route{Backend: BackendAWSAuth, Why: why}, nil
	}
	entry := func(why, hint string) (Route, error) {
		if in.Untranslatable != nil {
			return Route{Backend: BackendAccessEntry}, WithHint(invalid("%s; this mapping cannot be one: %v", why, in.Untranslatable), hint)
		}
		return Route{Backend: BackendAccessEntry, Translate: true, Why: why + translation}, nil
	}
	switch mode {
	case mapping.ModeKubeconfig, mapping.ModeConfigMap:
		return awsAuth(awsAuthOnlyWhy(cluster, mode))
	case mapping.ModeAPI:
		if in.AWSAuthOnly != "" {
			return Route{Backend: BackendAccessEntry}, WithHint(invalid("%s writes aws-auth, which EKS ignores in API mode, and access entries have no equivalent", in.AWSAuthOnly),
				"map each role with --arn instead (an access entry per principal)")
		}
		return entry(fmt.Sprintf("cluster %s is in API mode, where EKS reads only access entries", cluster),
			"change the mapping to one access entries can express (README: \"Where a change goes\" lists what translates), for example RBAC bound to a group of your own instead of a system: group")
	}
	// API_AND_CONFIG_MAP.
	switch {
	case in.AWSAuthOnly != "":
		return awsAuth(in.AWSAuthOnly + " has no access-entry equivalent")
	case at.AccessEntry:
		return entry(in.Principal+" has an access entry, which EKS uses instead of any aws-auth entry",
			fmt.Sprintf("an aws-auth entry would be overridden: delete the access entry first (iammap delete accessentry --arn %s), or change the mapping to one access entries can express", in.Principal))
	case in.EntryOnly != "":
		return entry(in.EntryOnly+" only exist for access entries", "leave out the access-entry options to map the principal in aws-auth")
	case at.AWSAuth:
		return awsAuth(in.Principal + " is mapped in aws-auth and has no access entry, so the change stays where it lives")
	case in.Untranslatable != nil:
		return awsAuth(fmt.Sprintf("this mapping has no access-entry form (%v)", in.Untranslatable))
	}
	return entry("a new principal gets an access entry, which EKS reads first in API_AND_CONFIG_MAP mode", "")
}

// DeleteRoute is where a delete removes mappings from.
type DeleteRoute struct {
	AWSAuth, AccessEntry bool
	Why                  string
}

// RouteDelete decides where a delete goes. An explicit --backend is
// literal; auto revokes the principal wherever EKS reads it: in
// API_AND_CONFIG_MAP mode its access entry and its aws-auth entries.
func RouteDelete(cluster string, mode mapping.Mode, choice Backend, force bool, account bool) (DeleteRoute, error) {
	if choice != BackendAuto && choice != "" {
		b, err := explicitBackend(cluster, mode, choice, force)
		return DeleteRoute{AWSAuth: b == BackendAWSAuth, AccessEntry: b == BackendAccessEntry, Why: explicitWhy}, err
	}
	switch {
	case mode == mapping.ModeKubeconfig || mode == mapping.ModeConfigMap:
		return DeleteRoute{AWSAuth: true, Why: awsAuthOnlyWhy(cluster, mode)}, nil
	case account && mode == mapping.ModeAPI && !force:
		return DeleteRoute{}, WithHint(invalid("--account removes a mapAccounts entry, which EKS ignores in API mode"), "add --force to tidy aws-auth anyway")
	case account:
		return DeleteRoute{AWSAuth: true, Why: "--account is a mapAccounts entry"}, nil
	case mode == mapping.ModeAPI:
		return DeleteRoute{AccessEntry: true, Why: fmt.Sprintf("cluster %s is in API mode, where EKS reads only access entries", cluster)}, nil
	}
	return DeleteRoute{AWSAuth: true, AccessEntry: true, Why: fmt.Sprintf("cluster %s is in API_AND_CONFIG_MAP mode, where EKS reads both", cluster)}, nil
}

// awsAuthOnlyWhy is why a write goes to aws-auth where nothing else is read.
func awsAuthOnlyWhy(cluster string, mode mapping.Mode) string {
	if mode == mapping.ModeKubeconfig {
		return "no EKS cluster is named, so aws-auth through the kubeconfig"
	}
	return fmt.Sprintf("cluster %s is in CONFIG_MAP mode, where EKS reads only aws-auth", cluster)
}
