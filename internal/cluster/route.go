package cluster

import (
	"fmt"

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

// WriteBackend decides where a create or delete goes. force lets an
// explicit aws-auth write through in API mode, where EKS ignores it.
func WriteBackend(cluster string, mode mapping.Mode, choice Backend, force bool) (Backend, error) {
	switch choice {
	case BackendAWSAuth:
		if mode == mapping.ModeAPI && !force {
			return "", WithHint(invalid("cluster %s is in API authentication mode: EKS ignores aws-auth, so this change would have no effect", cluster),
				"EKS reads only access entries there: use the accessentry noun (iammap create|delete accessentry), or leave out the noun and --backend, which is the default there; --force writes aws-auth anyway")
		}
		return BackendAWSAuth, nil
	case BackendAccessEntry:
		return BackendAccessEntry, RequireAccessEntries(cluster, mode)
	case BackendAuto, "":
		if mode == mapping.ModeKubeconfig || mode == mapping.ModeConfigMap {
			return BackendAWSAuth, nil
		}
		return BackendAccessEntry, nil
	}
	return "", invalid("unknown --backend %q: use auto, aws-auth or access-entry", choice)
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
