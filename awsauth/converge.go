package awsauth

import (
	"fmt"
	"slices"

	"github.com/iammap/iammap/mapping"
)

// Desired is the aws-auth content a declarative file asks for. The file owns
// every principal it names: after Converge each of them is mapped by exactly
// the desired entry.
type Desired struct {
	Mappings []mapping.Mapping
	Accounts []string
}

// Plan is what Converge changes.
type Plan struct {
	Add            []mapping.Mapping
	Remove         []Entry
	AddAccounts    []string
	RemoveAccounts []string
}

// Empty reports whether the plan changes nothing.
func (p Plan) Empty() bool {
	return len(p.Add)+len(p.Remove)+len(p.AddAccounts)+len(p.RemoveAccounts) == 0
}

// PlanFor compares doc with want. A principal in want whose only entry is an
// equivalent one in the right key is left alone; otherwise its entries are
// replaced by the desired one. With prune, entries and accounts not in want
// are removed; without, they are left alone.
func PlanFor(doc *Document, want Desired, prune bool) (Plan, error) {
	if errs := doc.Errs(); len(errs) > 0 {
		return Plan{}, fmt.Errorf("refusing to plan over an aws-auth that does not parse: %w", errs[0])
	}
	var p Plan
	byKey := map[string][]Entry{}
	for _, e := range doc.Entries() {
		byKey[e.Key()] = append(byKey[e.Key()], e)
	}
	wanted := map[string]bool{}
	for _, m := range want.Mappings {
		wanted[m.Key()] = true
		current := byKey[m.Key()]
		if len(current) == 1 && current[0].Source == m.Source && current[0].Status.State == mapping.Active && mapping.Equivalent(current[0].Mapping, m) {
			continue
		}
		p.Remove = append(p.Remove, current...)
		p.Add = append(p.Add, m)
	}
	if prune {
		for _, e := range doc.Entries() {
			if !wanted[e.Key()] {
				p.Remove = append(p.Remove, e)
			}
		}
	}
	current := doc.Set().Accounts
	for _, a := range want.Accounts {
		if !slices.Contains(current, a) {
			p.AddAccounts = append(p.AddAccounts, a)
		}
	}
	if prune {
		for _, a := range current {
			if !slices.Contains(want.Accounts, a) {
				p.RemoveAccounts = append(p.RemoveAccounts, a)
			}
		}
	}
	return p, nil
}

// ApplyPlan makes the plan's changes to doc: per key, one removal and one
// append, each verified once, whatever the number of entries.
func ApplyPlan(doc *Document, p Plan) error {
	removeIdx := map[mapping.Source][]int{}
	for _, e := range p.Remove {
		removeIdx[e.Source] = append(removeIdx[e.Source], e.Ref.Index)
	}
	for i, a := range doc.Set().Accounts {
		if slices.Contains(p.RemoveAccounts, a) {
			removeIdx[mapping.MapAccounts] = append(removeIdx[mapping.MapAccounts], i)
		}
	}
	addItems := map[mapping.Source][]any{}
	for _, m := range p.Add {
		addItems[m.Source] = append(addItems[m.Source], itemValue(m))
	}
	for _, a := range p.AddAccounts {
		addItems[mapping.MapAccounts] = append(addItems[mapping.MapAccounts], a)
	}
	for _, src := range sources {
		if idx := removeIdx[src]; len(idx) > 0 {
			if err := doc.removeItems(src, idx); err != nil {
				return err
			}
		}
		if items := addItems[src]; len(items) > 0 {
			text, generic, err := renderMany(items)
			if err != nil {
				return fmt.Errorf("render %s: %w", src, err)
			}
			if err := doc.appendItems(src, text, generic); err != nil {
				return err
			}
		}
	}
	return nil
}
