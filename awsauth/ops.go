package awsauth

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/iammap/iammap/mapping"
)

var (
	// ErrDuplicate: --no-duplicate-arns and the principal is already mapped differently.
	ErrDuplicate = errors.New("principal is already mapped")
	// ErrSpellingVariant: mapUsers maps the principal under an ARN spelled
	// in other letter cases; another spelling would make EKS pick at random.
	ErrSpellingVariant = errors.New("mapUsers maps this user with another spelling")
	// ErrNotFound: nothing to delete.
	ErrNotFound = errors.New("no such mapping")
	// ErrBackup: the backup taken before a write failed, so the write was
	// never sent.
	ErrBackup = errors.New("aws-auth backup failed")
)

// Entry is one mapping with its position and state in the document.
type Entry struct {
	mapping.Mapping
	Ref    mapping.Ref
	Status mapping.Status
}

// Entries lists every role and user mapping with its state, in file order
// (mapRoles first).
func (d *Document) Entries() []Entry {
	set := d.Set()
	roleStatus, userStatus := set.Status()
	var out []Entry
	for i, m := range set.Roles {
		out = append(out, Entry{Mapping: m, Ref: mapping.Ref{Source: mapping.MapRoles, Index: i}, Status: roleStatus[i]})
	}
	for i, m := range set.Users {
		out = append(out, Entry{Mapping: m, Ref: mapping.Ref{Source: mapping.MapUsers, Index: i}, Status: userStatus[i]})
	}
	return out
}

// EntriesFor lists the entries that map the same principal as arn, in any
// case and in either key (a role ARN under mapUsers still matches the role).
func (d *Document) EntriesFor(arn string) []Entry {
	key := strings.ToLower(arn)
	var out []Entry
	for _, e := range d.Entries() {
		if e.Key() == key {
			out = append(out, e)
		}
	}
	return out
}

// AddResult says what AddMapping did.
type AddResult struct {
	// Unchanged: an equivalent entry was already present; nothing to write.
	Unchanged bool
	Existing  *Entry
	// Shadows lists the entries for the same principal that the new entry
	// overrides (the authenticator uses the last one).
	Shadows []Entry
}

// AddMapping appends m unless an equivalent entry is present. Another entry
// for the same principal is overridden (and reported) unless noDuplicates,
// which refuses with ErrDuplicate.
func AddMapping(d *Document, m mapping.Mapping, noDuplicates bool) (AddResult, error) {
	existing := d.EntriesFor(m.Key())
	for i := range existing {
		// Only the entry in effect counts: re-adding an entry that is
		// shadowed would change who wins.
		if existing[i].Status.State == mapping.Active && mapping.Equivalent(existing[i].Mapping, m) && existing[i].Source == m.Source {
			return AddResult{Unchanged: true, Existing: &existing[i]}, nil
		}
	}
	if len(existing) > 0 && noDuplicates {
		e := existing[len(existing)-1]
		return AddResult{}, fmt.Errorf("%w: %s is in %s (username %q, groups %v); delete it first or drop --no-duplicate-arns", ErrDuplicate, e.Display(), e.Ref, e.Username, e.Groups)
	}
	// The authenticator files mapUsers entries by the ARN as written, so an
	// entry spelled in other letter cases does not replace the one present:
	// both stay, and EKS picks one at random.
	if st := statusIfAdded(d.Set(), m); st.State == mapping.Undefined {
		return AddResult{}, fmt.Errorf("%w (%s): EKS files mapUsers entries by the ARN as written, keeps both and picks either at random", ErrSpellingVariant, st.By)
	}
	text, generic, err := renderMany([]any{itemValue(m)})
	if err != nil {
		return AddResult{}, fmt.Errorf("render %s: %w", m.Source, err)
	}
	if err := d.appendItems(m.Source, text, generic); err != nil {
		return AddResult{}, err
	}
	return AddResult{Shadows: existing}, nil
}

// statusIfAdded is the state m would have, appended to set.
func statusIfAdded(set mapping.Set, m mapping.Mapping) mapping.Status {
	if m.Source == mapping.MapUsers {
		set.Users = append(slices.Clone(set.Users), m)
		_, users := set.Status()
		return users[len(users)-1]
	}
	set.Roles = append(slices.Clone(set.Roles), m)
	roles, _ := set.Status()
	return roles[len(roles)-1]
}

// AddAccount adds an account id to mapAccounts unless present.
func AddAccount(d *Document, id string) (unchanged bool, err error) {
	if !mapping.ValidAccountID(id) {
		return false, fmt.Errorf("account id %q is not 12 digits", id)
	}
	for _, a := range d.Set().Accounts {
		if a == id {
			return true, nil
		}
	}
	text, generic, err := renderMany([]any{id})
	if err != nil {
		return false, err
	}
	return false, d.appendItems(mapping.MapAccounts, text, generic)
}

// DeleteResult says what DeleteMapping removed and, crucially, what still
// maps the principal afterwards.
type DeleteResult struct {
	Removed   []Entry
	Remaining []Entry
	// Effective is what the principal is mapped to after the delete, if anything.
	Effective *Entry
	// Unreadable lists keys that did not parse and so may still map the principal.
	Unreadable []error
}

// DeleteMapping removes the first entry for arn (eksctl's behaviour), or every
// entry with all. Matching is case-insensitive and covers both keys.
func DeleteMapping(d *Document, arn string, all bool) (DeleteResult, error) {
	matches := d.EntriesFor(arn)
	if len(matches) == 0 {
		if err := unreadableKeys(d, arn); err != nil {
			return DeleteResult{}, err
		}
		return DeleteResult{}, fmt.Errorf("%w for %s in aws-auth", ErrNotFound, arn)
	}
	removed := matches[:1]
	if all {
		removed = matches
	}
	bySource := map[mapping.Source][]int{}
	for _, e := range removed {
		bySource[e.Source] = append(bySource[e.Source], e.Ref.Index)
	}
	for _, src := range []mapping.Source{mapping.MapRoles, mapping.MapUsers} {
		if idx := bySource[src]; len(idx) > 0 {
			if err := d.removeItems(src, idx); err != nil {
				return DeleteResult{}, err
			}
		}
	}
	res := DeleteResult{Removed: removed, Remaining: d.EntriesFor(arn), Unreadable: d.Errs()}
	for i := range res.Remaining {
		if st := res.Remaining[i].Status.State; st == mapping.Active || (st == mapping.Undefined && res.Effective == nil) {
			res.Effective = &res.Remaining[i]
		}
	}
	return res, nil
}

// unreadableKeys is the error for a principal found in no key that parses
// while a key it could be in does not parse (either key: a role ARN under
// mapUsers still maps the role). "No such mapping" would be a guess, and
// --ignore-not-found would act on it; the error wraps the keys' KeyErrors
// (ErrKeyParse, whose hint is to fix the key with kubectl edit), not
// ErrNotFound.
func unreadableKeys(d *Document, arn string) error {
	var names []string
	var errs []any
	for _, src := range []mapping.Source{mapping.MapRoles, mapping.MapUsers} {
		if err := d.Err(src); err != nil {
			names = append(names, string(src))
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	// Callers retry an ARN that is not found in the form EKS matches (no
	// role path, no assumed-role session): when that form is in a readable
	// key, not found is the true answer for this spelling.
	if p, _, err := mapping.ParsePrincipal(arn); err == nil && !strings.EqualFold(p.ARN, arn) && len(d.EntriesFor(p.ARN)) > 0 {
		return nil
	}
	format := "%s is in no aws-auth key iammap can read, but it may be in %s, which cannot be parsed, and iammap will not edit a key it cannot parse: " +
		strings.TrimSuffix(strings.Repeat("%w; ", len(errs)), "; ")
	return fmt.Errorf(format, append([]any{arn, strings.Join(names, " and ")}, errs...)...)
}

// DeleteAccount removes every occurrence of id from mapAccounts.
func DeleteAccount(d *Document, id string) error {
	var idx []int
	for i, a := range d.Set().Accounts {
		if a == id {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		if err := d.Err(mapping.MapAccounts); err != nil {
			return err
		}
		return fmt.Errorf("%w: account %s is not in mapAccounts", ErrNotFound, id)
	}
	return d.removeItems(mapping.MapAccounts, idx)
}
