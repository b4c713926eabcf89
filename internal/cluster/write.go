package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/iammap/iammap/accessentry"
	"github.com/iammap/iammap/awsauth"
	"github.com/iammap/iammap/internal/output"
	"github.com/iammap/iammap/internal/serviceaccess"
	"github.com/iammap/iammap/mapping"
)

// CreateRequest is one mapping to create, parsed and checked by the caller.
// Exactly one of Principal (with Mapping), Account, or Service (with
// ServiceNamespace and Mapping) names what is mapped.
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
	// Service grants an AWS service (--service-name) access to
	// ServiceNamespace: its RBAC objects, and Mapping, its service-linked
	// role's entry; Mapping left empty is the role of the cluster's account,
	// as eksctl does.
	Service          *serviceaccess.Service
	ServiceNamespace string
	// Entry is the access entry to ensure; its PrincipalARN is the ARN as given.
	Entry accessentry.Spec
	// AccessEntryOnly names the access-entry-only options that were set, for
	// the refusal when the change goes to aws-auth.
	AccessEntryOnly string
}

// CreateResult is what Create did (or, dry run, would do).
type CreateResult struct {
	Backend Backend
	// Route says where the change went and why.
	Route Route
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

// Create maps an identity where RouteCreate routes it, guarded against
// lockouts. Notes and warnings on the way go to r.
func (t *Target) Create(ctx context.Context, req CreateRequest, r Reporter) (CreateResult, error) {
	r = orDiscard(r)
	route, spec, err := t.routeCreate(ctx, req)
	res := CreateResult{Backend: route.Backend, Route: route, Mapping: req.Mapping}
	if err != nil {
		return res, err
	}
	backend := route.Backend
	if req.Service != nil && req.Mapping.ARN == "" {
		if t.EKS == nil {
			return res, WithHint(invalid("--service-name %s needs --account: no EKS cluster is named to take it from", req.Service.Name), "pass --account ID, or --cluster NAME")
		}
		if req.Mapping, err = req.Service.Mapping(t.EKS.Cluster.Partition, t.EKS.Cluster.Account); err != nil {
			return res, err
		}
		res.Mapping = req.Mapping
		r.Note("note: %s: the service-linked role of cluster %s's account %s", req.Service.Name, t.Name(), t.EKS.Cluster.Account)
	}
	if backend == BackendAccessEntry {
		if req.Account != "" || req.Service != nil {
			return res, WithHint(invalid("--account and --service-name write aws-auth; access entries have no equivalent"), "use the iamidentitymapping noun, or leave out the noun and --backend (the cluster must be in CONFIG_MAP or API_AND_CONFIG_MAP mode)")
		}
		if req.Principal == nil {
			return res, invalid("an access entry needs --arn")
		}
		res.Entry, err = t.EnsureEntry(ctx, EntryRequest{Spec: spec, Principal: *req.Principal, NoDuplicateARNs: req.NoDuplicateARNs, DryRun: req.DryRun, Force: req.Force, Replace: route.Translate}, r)
		if err != nil && req.Backend == BackendAccessEntry && len(route.Translation) > 0 && errors.Is(err, accessentry.ErrInvalid) {
			// Literal means literal, but say what auto would have done.
			err = WithHint(err, "leave out --backend and the accessentry noun, and iammap translates the mapping ("+strings.Join(route.Translation, "; ")+")")
		}
		return res, err
	}
	if req.AccessEntryOnly != "" {
		return res, WithHint(invalid("%s only apply to access entries, and this change goes to aws-auth", req.AccessEntryOnly), "pass --cluster NAME for a cluster in API or API_AND_CONFIG_MAP mode, or use the accessentry noun")
	}
	if t.Mode() == mapping.ModeAPIAndConfigMap && req.Principal != nil && req.Backend == BackendAWSAuth {
		// An explicit aws-auth write: say when an access entry makes it moot.
		if e, err := t.AccessEntries().Get(ctx, req.Entry.PrincipalARN); err == nil {
			r.Warn("%s has an access entry (%s), which EKS uses instead of this aws-auth entry", e.PrincipalARN, output.Identity(e.Username, e.Groups))
		}
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
	if req.Service != nil {
		cs, err := t.Kubernetes(ctx)
		if err != nil {
			return res, err
		}
		actions, err := req.Service.EnsureRBAC(ctx, cs, req.ServiceNamespace, req.DryRun)
		for _, a := range actions {
			name := a.Name
			if a.Namespace != "" {
				name = a.Namespace + "/" + a.Name
			}
			r.Note("%s%s %s %s", DryPrefix(req.DryRun), a.Verb, a.Kind, name)
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

// routeCreate reads what RouteCreate needs and calls it; spec is the access
// entry to ensure when the route is an access entry.
func (t *Target) routeCreate(ctx context.Context, req CreateRequest) (Route, accessentry.Spec, error) {
	in := CreateIntent{EntryOnly: req.AccessEntryOnly}
	switch {
	case req.Account != "":
		in.AWSAuthOnly = "--account"
	case req.Service != nil:
		in.AWSAuthOnly = "--service-name"
	}
	form := req.Entry
	if req.Principal != nil {
		in.Principal = req.Entry.PrincipalARN
		form, in.Translation, in.Untranslatable = t.entryForm(req)
	}
	var at Presence
	if (req.Backend == BackendAuto || req.Backend == "") && t.Mode() == mapping.ModeAPIAndConfigMap && req.Principal != nil && in.AWSAuthOnly == "" {
		var err error
		if at, err = t.presence(ctx, *req.Principal, req.Entry.PrincipalARN); err != nil {
			return Route{}, form, err
		}
	}
	route, err := RouteCreate(t.Name(), t.Mode(), req.Backend, req.Force, in, at)
	route.Translation = in.Translation
	if !route.Translate {
		form = req.Entry
	}
	return route, form, err
}

// entryForm is the mapping req asks for as an access entry: the aws-auth
// form translated by accessentry.FromAWSAuth (the one translation, shared
// with migrate), with the access-entry options added. An explicit node
// --type is its own form.
func (t *Target) entryForm(req CreateRequest) (accessentry.Spec, []string, error) {
	if req.Entry.Type != "" && req.Entry.Type != "STANDARD" {
		return req.Entry, nil, nil
	}
	account := ""
	if t.EKS != nil {
		account = t.EKS.Cluster.Account
	}
	spec, notes, err := accessentry.FromAWSAuth(*req.Principal, req.Entry.Username, req.Entry.Groups, account)
	if err != nil {
		return req.Entry, nil, err
	}
	spec.PrincipalARN, spec.Tags = req.Entry.PrincipalARN, req.Entry.Tags
	for _, p := range req.Entry.Policies {
		if !slices.ContainsFunc(spec.Policies, func(q accessentry.PolicySpec) bool { return q.ARN == p.ARN }) {
			spec.Policies = append(spec.Policies, p)
		}
	}
	return spec, notes, nil
}

// presence says where principal p (arn as given) is mapped now. A failed
// read is an error: routing must not guess.
func (t *Target) presence(ctx context.Context, p mapping.Principal, arn string) (Presence, error) {
	var at Presence
	cl := t.EKS.Cluster
	if spec, _, err := accessentry.ValidatePrincipal(accessentry.Spec{PrincipalARN: arn, Type: "STANDARD"}, p, cl.Account, cl.Partition); err == nil {
		_, err := t.AccessEntries().Get(ctx, spec.PrincipalARN)
		switch {
		case err == nil:
			at.AccessEntry = true
		case !errors.Is(err, accessentry.ErrNotFound):
			return at, fmt.Errorf("look up the access entry of %s to decide where the change goes: %w", arn, err)
		}
	}
	snap, err := t.LoadAWSAuth(ctx)
	if err != nil {
		return at, fmt.Errorf("read aws-auth to decide where the change goes: %w", err)
	}
	at.AWSAuth = len(snap.Doc.EntriesFor(arn)) > 0 || len(snap.Doc.EntriesFor(p.ARN)) > 0
	return at, nil
}

// EntryRequest is one access entry to ensure.
type EntryRequest struct {
	// Spec's PrincipalARN is the ARN as given; Principal is its parse.
	Spec            accessentry.Spec
	Principal       mapping.Principal
	NoDuplicateARNs bool
	DryRun, Force   bool
	// Replace removes the policy associations Spec does not list.
	Replace bool
}

// EntryResult is what EnsureEntry did.
type EntryResult struct {
	// PrincipalARN is the ARN the entry is for, after validation.
	PrincipalARN string
	// Changes lists the changes made (dry run: that would be made), in order;
	// on error, those made before it.
	Changes []string
	// Effect is what the principal got before and gets after, when the
	// change moves it off an aws-auth mapping (the entry now overrides it).
	Effect *Effect
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
	var plan accessentry.Plan
	g, err := t.GuardEntries(ctx, []string{spec.PrincipalARN}, req.Force, func(current []accessentry.Entry) (p accessentry.Plan, err error) {
		// Only this principal's entry is planned: with Replace the plan
		// prunes, and must never touch the other entries read.
		own := slices.DeleteFunc(slices.Clone(current), func(e accessentry.Entry) bool { return e.PrincipalARN != spec.PrincipalARN })
		plan, err = accessentry.PlanFor(own, []accessentry.Spec{spec}, req.Replace)
		return plan, err
	})
	if g != nil {
		if e := g.EntryEffect(plan, spec.PrincipalARN); e.Before.Mechanism == mapping.ViaAWSAuth {
			res.Effect = &e
		}
	}
	if err != nil {
		return res, err
	}
	if req.NoDuplicateARNs {
		if existing, err := client.Get(ctx, spec.PrincipalARN); err == nil && !sameEntry(existing, spec) {
			return res, fmt.Errorf("%w: %s already has an access entry (%s); delete it first or drop --no-duplicate-arns",
				awsauth.ErrDuplicate, spec.PrincipalARN, output.Identity(existing.Username, existing.Groups))
		}
	}
	client.DryRun = req.DryRun
	converge := client.Ensure
	if req.Replace {
		converge = client.Replace
	}
	ensured, err := converge(ctx, spec)
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
	// Route says where the delete went and why.
	Route DeleteRoute
	// Effect is what the principal got before and gets after a delete from
	// both mechanisms (auto, API_AND_CONFIG_MAP mode); nil otherwise.
	Effect *Effect
}

// Delete removes a mapping where RouteDelete routes it, guarded against
// lockouts: in API_AND_CONFIG_MAP mode (auto) the principal's access entry
// and its aws-auth entries, checked as one change.
func (t *Target) Delete(ctx context.Context, req DeleteRequest) (DeleteResult, error) {
	route, err := RouteDelete(t.Name(), t.Mode(), req.Backend, req.Force, req.Account != "")
	res := DeleteResult{Backend: BackendAWSAuth, Route: route}
	if route.AccessEntry && !route.AWSAuth {
		res.Backend = BackendAccessEntry
	}
	if err != nil {
		return res, err
	}
	switch {
	case res.Backend == BackendAccessEntry && req.Account != "":
		return res, WithHint(invalid("--account removes a mapAccounts entry; access entries have no equivalent"), "use the iamidentitymapping noun")
	case res.Backend == BackendAccessEntry:
		return t.deleteEntry(ctx, req, res)
	case route.AccessEntry:
		return t.revoke(ctx, req, res)
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
	if m := t.Mode(); m == mapping.ModeKubeconfig || m == mapping.ModeConfigMap {
		// aws-auth is all EKS reads: say what is left (mapAccounts too).
		after := mapping.Access{Mode: m, AWSAuth: awsauth.Decode(res.Write.After).Set()}
		res.Effect = &Effect{Principal: req.ARN, After: after.IdentifyPrincipal(req.ARN)}
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
	// The guard reads aws-auth before the delete: afterwards the caller may
	// no longer be allowed to (its own entry may be the one going).
	g, err := t.GuardEntries(ctx, []string{req.ARN}, req.Force, func([]accessentry.Entry) (accessentry.Plan, error) {
		return accessentry.Plan{Actions: []accessentry.Action{{Kind: accessentry.ActDelete, PrincipalARN: req.ARN}}}, nil
	})
	if err != nil {
		return res, err
	}
	var gone accessentry.Entry
	if req.DryRun {
		gone, err = client.Get(ctx, req.ARN)
	} else {
		gone, err = client.Delete(ctx, req.ARN)
	}
	if errors.Is(err, accessentry.ErrNotFound) {
		return res, fmt.Errorf("%w: %s has no access entry in cluster %s", accessentry.ErrNotFound, req.ARN, t.Name())
	}
	if err != nil {
		return res, err
	}
	res.Entry = &gone
	// Say what the principal becomes now that its entry is gone: the access
	// model decides, with no entry for it and aws-auth as read.
	id := mapping.Access{Mode: t.Mode(), AWSAuth: g.AWSAuth}.IdentifyPrincipal(req.ARN)
	if id.Mechanism == mapping.ViaAWSAuth && id.Resolution.Ref != nil {
		res.FallsBackTo = id.Resolution
	}
	if res.Route.Why != explicitWhy {
		// Asked to revoke: say what is left (mapAccounts too), or that
		// nothing is.
		res.Effect = &Effect{Principal: req.ARN, After: id}
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

// revoke removes the principal from both mechanisms: its aws-auth entries
// (the first, or all with req.All) and its access entry. The guard weighs
// the two removals as one change; aws-auth is written first, inside its
// conflict-retrying update, so the check sees its latest content.
func (t *Target) revoke(ctx context.Context, req DeleteRequest, res DeleteResult) (DeleteResult, error) {
	client := t.AccessEntries()
	entry, err := client.Get(ctx, req.ARN)
	hasEntry := err == nil
	if err != nil && !errors.Is(err, accessentry.ErrNotFound) {
		return res, err
	}
	store, err := t.Store(ctx)
	if err != nil {
		return res, err
	}
	g, err := t.Guard(ctx, []string{req.ARN}, req.Force)
	if err != nil {
		return res, err
	}
	entriesAfter := slices.DeleteFunc(slices.Clone(g.Entries), func(e accessentry.Entry) bool {
		return hasEntry && mapping.PrincipalKey(e.PrincipalARN) == mapping.PrincipalKey(entry.PrincipalARN)
	})
	g.EntriesAfter = &entriesAfter
	var before mapping.Set
	res.Write, err = store.Modify(ctx, g.AWSAuthChange(func(doc *awsauth.Document) (bool, error) {
		before = doc.Set()
		var err error
		res.Deleted, err = awsauth.DeleteMapping(doc, req.ARN, req.All)
		if errors.Is(err, awsauth.ErrNotFound) && req.Principal.ARN != strings.ToLower(req.ARN) {
			res.Deleted, err = awsauth.DeleteMapping(doc, req.Principal.ARN, req.All)
		}
		return err == nil, err
	}), req.DryRun)
	switch {
	case errors.Is(err, awsauth.ErrNotFound) && hasEntry:
		// Only the access entry: the access-entry delete, guarded and
		// reported on its own.
		res.Write, res.Deleted = awsauth.Result{}, awsauth.DeleteResult{}
		return t.deleteEntry(ctx, req, res)
	case errors.Is(err, awsauth.ErrNotFound):
		return res, fmt.Errorf("%w: %s has no access entry and no aws-auth entry", awsauth.ErrNotFound, req.ARN)
	case errors.Is(err, awsauth.ErrKeyParse) && hasEntry:
		// Fail closed: half a revoke would leave an aws-auth mapping no one
		// can see. Nothing was changed.
		return res, WithHint(err, fmt.Sprintf("nothing was changed; fix the key with `kubectl edit -n kube-system configmap aws-auth`, or remove only the access entry with `iammap delete accessentry --arn %s`", req.ARN))
	case err != nil:
		return res, err
	}
	if hasEntry {
		if !req.DryRun {
			if _, err := client.Delete(ctx, req.ARN); err != nil {
				return res, WithHint(fmt.Errorf("aws-auth entries removed, but not the access entry: %w", err), "the access entry still lets the principal in; run the same command again to finish")
			}
		}
		// Set only once deleted: the report says what was done.
		res.Entry = &entry
	}
	after := awsauth.Decode(res.Write.After).Set()
	e := Effect{Principal: req.ARN,
		Before: mapping.Access{Mode: t.Mode(), AWSAuth: before, Entries: g.Entries}.IdentifyPrincipal(req.ARN),
		After:  mapping.Access{Mode: t.Mode(), AWSAuth: after, Entries: entriesAfter}.IdentifyPrincipal(req.ARN)}
	res.Effect = &e
	return res, nil
}
