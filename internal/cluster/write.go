package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/output"
	"github.com/iammap/iammap/internal/serviceaccess"
	"github.com/iammap/iammap/mapping"
)

// CreateRequest is one mapping to create, parsed and checked by the caller.
// Exactly one of Principal (with Mapping), Account, or EMRNamespace (with
// Mapping) names what is mapped.
type CreateRequest struct {
	Backend       Backend
	Force, DryRun bool
	// NoDuplicateARNs refuses when the principal is already mapped differently.
	NoDuplicateARNs bool

	// Principal is the parsed --arn, parsed once; Rewrites are what parsing
	// changed for aws-auth.
	Principal *mapping.Principal
	Rewrites  []mapping.Rewrite
	// Mapping is the aws-auth entry to add (a principal's, or a service's).
	Mapping mapping.Mapping
	// Account maps a whole account (mapAccounts).
	Account string
	// EMRNamespace grants EMR on EKS access to a namespace (Mapping is its
	// service role's; left empty, it is the service-linked role of the
	// cluster's account, as eksctl does).
	EMRNamespace string
	// Entry is the access entry to ensure; its PrincipalARN is the ARN as given.
	Entry accessentry.Spec
	// AccessEntryOnly names the access-entry-only options that were set, for
	// the refusal when the change goes to aws-auth.
	AccessEntryOnly string
}

// CreateResult is what Create did (or, dry run, would do).
type CreateResult struct {
	Backend Backend
	// Mapping is the aws-auth entry added (or already there).
	Mapping mapping.Mapping
	// aws-auth: the result of adding Mapping, or AccountExisted for an
	// account; Write is the ConfigMap write.
	Added          awsauth.AddResult
	AccountExisted bool
	Write          awsauth.Result
	// Access entries.
	Entry EntryResult
}

// Create maps an identity where WriteBackend routes it, guarded against
// lockouts. Notes and warnings on the way go to r.
func (t *Target) Create(ctx context.Context, req CreateRequest, r Reporter) (CreateResult, error) {
	r = orDiscard(r)
	backend, err := WriteBackend(t.Name(), t.Mode(), req.Backend, req.Force)
	res := CreateResult{Backend: backend, Mapping: req.Mapping}
	if err != nil {
		return res, err
	}
	if req.EMRNamespace != "" && req.Mapping.ARN == "" {
		if t.EKS == nil {
			return res, WithHint(invalid("--service-name %s needs --account: no EKS cluster is named to take it from", serviceaccess.EMRContainers), "pass --account ID, or --cluster NAME")
		}
		if req.Mapping, err = serviceaccess.EMRMapping(t.EKS.Cluster.Partition, t.EKS.Cluster.Account); err != nil {
			return res, err
		}
		res.Mapping = req.Mapping
		r.Note("note: %s: the service-linked role of cluster %s's account %s", serviceaccess.EMRContainers, t.Name(), t.EKS.Cluster.Account)
	}
	if backend == BackendAccessEntry {
		if req.Account != "" || req.EMRNamespace != "" {
			return res, WithHint(invalid("--account and --service-name write aws-auth; access entries have no equivalent"), "add --backend aws-auth (the cluster must be in CONFIG_MAP or API_AND_CONFIG_MAP mode)")
		}
		if req.Principal == nil {
			return res, invalid("an access entry needs --arn")
		}
		res.Entry, err = t.EnsureEntry(ctx, EntryRequest{Spec: req.Entry, Principal: *req.Principal, NoDuplicateARNs: req.NoDuplicateARNs, DryRun: req.DryRun, Force: req.Force}, r)
		return res, err
	}
	if req.AccessEntryOnly != "" {
		return res, WithHint(invalid("%s only apply to access entries, and this change goes to aws-auth", req.AccessEntryOnly), "pass --cluster NAME for a cluster in API or API_AND_CONFIG_MAP mode, or --backend access-entry")
	}
	if t.Mode() == mapping.ModeAPIAndConfigMap {
		r.Warn("cluster %s is in API_AND_CONFIG_MAP mode: an access entry for the same principal would override this aws-auth entry", t.Name())
	}
	for _, rw := range req.Rewrites {
		r.Note("note: %s", rw)
	}
	store, err := t.Store(ctx)
	if req.Account != "" {
		if err != nil {
			return res, err
		}
		res.Write, err = store.Modify(ctx, func(doc *awsauth.Document) (bool, error) {
			var err error
			res.AccountExisted, err = awsauth.AddAccount(doc, req.Account)
			return !res.AccountExisted, err
		}, req.DryRun)
		return res, err
	}
	m := req.Mapping
	for _, s := range append([]string{m.Username}, m.Groups...) {
		for _, w := range mapping.TemplateWarnings(s) {
			r.Warn("%s", w)
		}
	}
	if err != nil {
		return res, err
	}
	if req.EMRNamespace != "" {
		cs, err := t.Kubernetes(ctx)
		if err != nil {
			return res, err
		}
		actions, err := serviceaccess.EnsureEMRRBAC(ctx, cs.RbacV1(), req.EMRNamespace, req.DryRun)
		for _, a := range actions {
			r.Note("%s%s %s %s/%s", DryPrefix(req.DryRun), a.Verb, a.Kind, a.Namespace, a.Name)
		}
		if err != nil {
			return res, err
		}
	}
	g, err := t.Guard(ctx, []string{m.Display()}, req.Force)
	if err != nil {
		return res, err
	}
	res.Write, err = store.Modify(ctx, g.AWSAuthChange(func(doc *awsauth.Document) (bool, error) {
		added, err := awsauth.AddMapping(doc, m, req.NoDuplicateARNs)
		res.Added = added
		return !added.Unchanged, err
	}), req.DryRun)
	if err != nil {
		return res, err
	}
	r.Debug("aws-auth read at resourceVersion %q; %d attempt(s)", res.Write.ResourceVersion, res.Write.Attempts)
	return res, nil
}

// EntryRequest is one access entry to ensure.
type EntryRequest struct {
	// Spec's PrincipalARN is the ARN as given; Principal is its parse.
	Spec            accessentry.Spec
	Principal       mapping.Principal
	NoDuplicateARNs bool
	DryRun, Force   bool
}

// EntryResult is what EnsureEntry did.
type EntryResult struct {
	// PrincipalARN is the ARN the entry is for, after validation.
	PrincipalARN string
	// Changes lists the changes made (dry run: that would be made), in order;
	// on error, those made before it.
	Changes []string
}

// EnsureEntry makes the access entry match req.Spec (policies not in it
// are left alone), after EKS's rules and the lockout guard.
func (t *Target) EnsureEntry(ctx context.Context, req EntryRequest, r Reporter) (EntryResult, error) {
	r = orDiscard(r)
	cl := t.EKS.Cluster
	spec, rewrites, err := accessentry.ValidatePrincipal(req.Spec, req.Principal, cl.Account, cl.Partition)
	if err != nil {
		return EntryResult{}, err
	}
	res := EntryResult{PrincipalARN: spec.PrincipalARN}
	for _, rw := range rewrites {
		r.Note("note: %s", rw)
	}
	client := t.AccessEntries()
	if _, err := t.GuardEntries(ctx, []string{spec.PrincipalARN}, req.Force, func(current []accessentry.Entry) (accessentry.Plan, error) {
		return accessentry.PlanFor(current, []accessentry.Spec{spec}, false)
	}); err != nil {
		return res, err
	}
	if req.NoDuplicateARNs {
		if existing, err := client.Get(ctx, spec.PrincipalARN); err == nil && !sameEntry(existing, spec) {
			return res, fmt.Errorf("%w: %s already has an access entry (%s); delete it first or drop --no-duplicate-arns",
				awsauth.ErrDuplicate, spec.PrincipalARN, output.Identity(existing.Username, existing.Groups))
		}
	}
	client.DryRun = req.DryRun
	ensured, err := client.Ensure(ctx, spec)
	res.Changes = ensured.Changes
	if err != nil && len(res.Changes) > 0 {
		return res, WithHint(err, "the changes listed above were made before the failure; fix the cause and run the same command again (it is idempotent)")
	}
	return res, err
}

// sameEntry: would Ensure leave existing as it is (policies aside)?
func sameEntry(e accessentry.Entry, spec accessentry.Spec) bool {
	return e.Type == spec.Type && (spec.Username == "" || spec.Username == e.Username) && strings.Join(e.Groups, ",") == strings.Join(spec.Groups, ",")
}

// DeleteRequest is one mapping to remove.
type DeleteRequest struct {
	Backend       Backend
	Force, DryRun bool
	// ARN is the principal as given; Principal is its parse in lower case
	// (matching is case-insensitive, like the authenticator's).
	ARN       string
	Principal mapping.Principal
	// All removes every aws-auth entry for ARN, not just the first.
	All bool
	// Account removes a mapAccounts entry instead.
	Account string
}

// DeleteResult is what Delete did (or, dry run, would do).
type DeleteResult struct {
	Backend Backend
	// aws-auth.
	Write   awsauth.Result
	Deleted awsauth.DeleteResult
	// AlsoEntry is the principal's access entry, which EKS uses instead of
	// aws-auth in API_AND_CONFIG_MAP mode (not looked up in a dry run).
	AlsoEntry *accessentry.Entry
	// Access entries: the entry deleted, and the aws-auth mapping EKS falls
	// back to now (API_AND_CONFIG_MAP mode).
	Entry       *accessentry.Entry
	FallsBackTo *mapping.Resolution
}

// Delete removes a mapping where WriteBackend routes it, guarded against
// lockouts.
func (t *Target) Delete(ctx context.Context, req DeleteRequest) (DeleteResult, error) {
	backend, err := WriteBackend(t.Name(), t.Mode(), req.Backend, req.Force)
	res := DeleteResult{Backend: backend}
	if err != nil {
		return res, err
	}
	if backend == BackendAccessEntry {
		if req.Account != "" {
			return res, WithHint(invalid("--account removes a mapAccounts entry; access entries have no equivalent"), "add --backend aws-auth")
		}
		return t.deleteEntry(ctx, req, res)
	}
	store, err := t.Store(ctx)
	if err != nil {
		return res, err
	}
	touched := []string{req.ARN}
	if req.Account != "" {
		touched = []string{}
	}
	g, err := t.Guard(ctx, touched, req.Force)
	if err != nil {
		return res, err
	}
	if req.Account != "" {
		res.Write, err = store.Modify(ctx, g.AWSAuthChange(func(doc *awsauth.Document) (bool, error) {
			return true, awsauth.DeleteAccount(doc, req.Account)
		}), req.DryRun)
		return res, err
	}
	res.Write, err = store.Modify(ctx, g.AWSAuthChange(func(doc *awsauth.Document) (bool, error) {
		// The ARN as given first (it may be a never-matching entry with a
		// path), then the form EKS matches.
		var err error
		res.Deleted, err = awsauth.DeleteMapping(doc, req.ARN, req.All)
		if errors.Is(err, awsauth.ErrNotFound) && req.Principal.ARN != strings.ToLower(req.ARN) {
			res.Deleted, err = awsauth.DeleteMapping(doc, req.Principal.ARN, req.All)
		}
		return err == nil, err
	}), req.DryRun)
	if err != nil {
		return res, err
	}
	if t.Mode() == mapping.ModeAPIAndConfigMap && !req.DryRun {
		if e, err := t.AccessEntries().Get(ctx, req.ARN); err == nil {
			res.AlsoEntry = &e
		}
	}
	return res, nil
}

func (t *Target) deleteEntry(ctx context.Context, req DeleteRequest, res DeleteResult) (DeleteResult, error) {
	client := t.AccessEntries()
	if err := t.GuardAction(ctx, accessentry.Action{Kind: accessentry.ActDelete, PrincipalARN: req.ARN}, req.Force); err != nil {
		return res, err
	}
	var gone accessentry.Entry
	var err error
	if req.DryRun {
		gone, err = client.Get(ctx, req.ARN)
	} else {
		gone, err = client.Delete(ctx, req.ARN)
	}
	if err != nil {
		return res, err
	}
	res.Entry = &gone
	// Where EKS also reads aws-auth, say what the principal becomes now that
	// its entry is gone: the access model decides, with no entry for it.
	if t.Mode().UsesAWSAuth() {
		snap, err := t.LoadAWSAuth(ctx)
		if err != nil {
			return res, err
		}
		after := mapping.Access{Mode: t.Mode(), AWSAuth: snap.Doc.Set()}
		if id := after.IdentifyPrincipal(req.ARN); id.Mechanism == mapping.ViaAWSAuth && id.Resolution.Ref != nil {
			res.FallsBackTo = id.Resolution
		}
	}
	return res, nil
}

// DryPrefix starts a message about a change a dry run did not make.
func DryPrefix(dryRun bool) string {
	if dryRun {
		return "dry run: would have "
	}
	return ""
}
