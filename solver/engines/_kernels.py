"""Numba kernels of the greedy engines: one pass over the containers in a set order.

Only ``@njit(cache=True)`` functions over flat arrays live here; ``greedy.py`` builds
the inputs and wraps the result. The search for machines goes through the first-fit
tree of ``_tree_kernels`` (``tree_find`` returns the smallest usable machine index
>= lo whose residual covers a request; ``tree_set`` records a changed residual):

- first fit: one ``tree_find(state, req, 0)`` per container when it has no rules; with
  rules, the next ``tree_find`` from ``j + 1`` while machine ``j`` breaks one;
- best / worst fit under a score: feasible machines are visited in index order from a
  rotating start (Kubernetes' ``nextStartNodeIndex``) until ``candidates`` of them are
  scored (0 = all); a few neighbours are probed directly before jumping with the tree.

Scores are "higher is better" for best fit (worst fit takes the lowest); a container
whose preferred affinity holds on a machine ranks that machine above all others.
Resource amounts stay int64; scores are float64 built from sizes normalised per
dimension (``scale[k] = 1 / largest capacity``) or, for the Kubernetes, Nomad and
E-PVM scores, from the machine's own capacity.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._tree_kernels import tree_find, tree_set

FIRST, BEST, WORST = 0, 1, 2
SUM, L2, DOT, K8S_LEAST, K8S_MOST, K8S_BALANCED, EPVM, NOMAD = range(8)
_PROBE = 8  # machines checked directly before asking the tree for a jump


@njit(cache=True)
def fits(residual, j, req):
    """True when machine ``j``'s residual covers ``req`` in every dimension."""
    for k in range(req.shape[0]):  # noqa: SIM110  (Numba has no generator closures)
        if residual[j, k] < req[k]:
            return False
    return True


@njit(cache=True)
def score_of(kind, residual, capacity, j, req, scale, base):
    """Score of placing ``req`` on machine ``j`` (higher = better under best fit)."""
    d = req.shape[0]
    s = 0.0
    if kind == SUM:
        for k in range(d):
            s -= (residual[j, k] - req[k]) * scale[k]
    elif kind == L2:
        for k in range(d):
            x = (residual[j, k] - req[k]) * scale[k]
            s -= x * x
    elif kind == DOT:
        for k in range(d):
            s += (req[k] * scale[k]) * (residual[j, k] * scale[k])
    elif kind == K8S_LEAST or kind == K8S_MOST:  # noqa: SIM109  (Numba)
        used = 0
        for k in range(d):
            c = capacity[j, k]
            if c > 0:
                frac = (c - residual[j, k] + req[k]) / c
                s += (1.0 - frac) * 100.0 if kind == K8S_LEAST else frac * 100.0
                used += 1
        if used > 0:
            s /= used
    elif kind == K8S_BALANCED:
        total = 0.0
        used = 0
        for k in range(d):
            c = capacity[j, k]
            if c > 0:
                total += min((c - residual[j, k] + req[k]) / c, 1.0)
                used += 1
        var = 0.0
        if used > 0:
            mean = total / used
            for k in range(d):
                c = capacity[j, k]
                if c > 0:
                    x = min((c - residual[j, k] + req[k]) / c, 1.0) - mean
                    var += x * x
            var /= used
        s = (1.0 - np.sqrt(var)) * 100.0
    elif kind == EPVM:
        for k in range(d):
            c = capacity[j, k]
            if c > 0:
                before = (c - residual[j, k]) / c
                after = (c - residual[j, k] + req[k]) / c
                s -= base**after - base**before
    else:  # NOMAD: BestFit v3, 10 per dimension minus 10 ** (free fraction after)
        for k in range(d):
            c = capacity[j, k]
            if c > 0:
                s += 10.0 - 10.0 ** ((residual[j, k] - req[k]) / c)
    return s


@njit(cache=True)
def next_fit(state, residual, usable, req, lo, hi):
    """Smallest usable machine j in [lo, hi) whose residual covers ``req``, or -1."""
    stop = min(lo + _PROBE, hi)
    j = lo
    while j < stop:
        if usable[j] and fits(residual, j, req):
            return j
        j += 1
    if j >= hi:
        return -1
    j = tree_find(state, req, j)
    if j < 0 or j >= hi:
        return -1
    return j


@njit(cache=True)
def rules_hold(
    i, j, service_id, domain, aa_ptr, aa_groups, aa_key, aa_limit, aa_off, aa_own_key,
    sp_group, sp_key, sp_skew, sp_off, sp_min, af_group, af_required, af_self, at_key,
    at_off, at_total, counts,
):
    """Anti-affinity, spread and required affinity allow container i on machine j."""
    s = service_id[i]
    for p in range(aa_ptr[s], aa_ptr[s + 1]):
        g = aa_groups[p]
        x = domain[aa_key[g], j]
        if x < 0:
            if aa_own_key[i] == aa_key[g]:
                return False
        elif counts[aa_off[g] + x] >= aa_limit[g]:
            return False
    h = sp_group[i]
    if h >= 0:
        x = domain[sp_key[h], j]
        if x < 0 or counts[sp_off[h] + x] + 1 - sp_min[h] > sp_skew[h]:
            return False
    a = af_group[i]
    if a >= 0 and af_required[i]:
        x = domain[at_key[a], j]
        if x < 0:
            return False
        if not (af_self[i] and at_total[a] == 0) and counts[at_off[a] + x] < 1:
            return False
    return True


@njit(cache=True)
def greedy_pass(
    requests, order, state, residual, usable, capacity, scale, rule, kind,
    candidates, base, constrained, eclass, eligible, stay, pin, service_id, domain,
    n_domains, aa_ptr, aa_groups, aa_key, aa_limit, aa_off, aa_own_key, sp_group,
    sp_key, sp_skew, sp_off, sp_valid, sp_min, sp_nmin, af_group, af_required, af_self,
    at_ptr, at_groups, at_key, at_off, at_total, ns_id, quota, quota_used, counts,
    assignment,
):
    """Place ``order``'s containers one by one; fills ``assignment`` (int32, -1 = none).

    ``residual``, ``counts``, ``sp_min``, ``sp_nmin``, ``at_total`` and ``quota_used``
    are updated in place and describe the final state. With ``constrained`` false only
    machine usability and capacity are checked.
    """
    m = residual.shape[0]
    d = requests.shape[1]
    next_start = 0
    for t in range(order.shape[0]):
        i = order[t]
        req = requests[i]
        if constrained:
            ns = ns_id[i]
            if ns >= 0:
                over = False
                for k in range(d):
                    if req[k] > quota[ns, k] - quota_used[ns, k]:
                        over = True
                if over:
                    continue
        best = -1
        p = pin[i] if constrained else -1
        if p >= 0:
            if (
                (eligible[eclass[i], p] or stay[i] == p)
                and fits(residual, p, req)
                and rules_hold(
                    i, p, service_id, domain, aa_ptr, aa_groups, aa_key, aa_limit,
                    aa_off, aa_own_key, sp_group, sp_key, sp_skew, sp_off, sp_min,
                    af_group, af_required, af_self, at_key, at_off, at_total, counts,
                )
            ):
                best = p
        elif rule == FIRST:
            lo = 0
            while lo < m:
                j = next_fit(state, residual, usable, req, lo, m)
                if j < 0:
                    break
                if not constrained or (
                    eligible[eclass[i], j]
                    and rules_hold(
                        i, j, service_id, domain, aa_ptr, aa_groups, aa_key, aa_limit,
                        aa_off, aa_own_key, sp_group, sp_key, sp_skew, sp_off, sp_min,
                        af_group, af_required, af_self, at_key, at_off, at_total,
                        counts,
                    )
                ):
                    best = j
                    break
                lo = j + 1
            if constrained:
                j = stay[i]
                if (
                    j >= 0
                    and (best < 0 or j < best)
                    and fits(residual, j, req)
                    and rules_hold(
                        i, j, service_id, domain, aa_ptr, aa_groups, aa_key, aa_limit,
                        aa_off, aa_own_key, sp_group, sp_key, sp_skew, sp_off, sp_min,
                        af_group, af_required, af_self, at_key, at_off, at_total,
                        counts,
                    )
                ):
                    best = j
        else:
            start = next_start if candidates > 0 else 0
            found = 0
            last = -1
            best_pref = -1
            best_key = -np.inf
            a = af_group[i] if constrained else -1
            prefer = a >= 0 and not af_required[i]
            for seg in range(3):
                if seg == 1 and candidates > 0 and found >= candidates:
                    continue  # enough candidates before the wrap-around
                if seg < 2:
                    lo = start if seg == 0 else 0
                    hi = m if seg == 0 else start
                else:  # a cordoned machine the container already runs on
                    if not constrained or stay[i] < 0:
                        break
                    lo = stay[i]
                    hi = lo + 1
                while lo < hi:
                    if seg < 2:
                        j = next_fit(state, residual, usable, req, lo, hi)
                        if j < 0:
                            break
                    else:
                        j = lo
                        if not fits(residual, j, req):
                            break
                    lo = j + 1
                    if constrained and not (
                        (eligible[eclass[i], j] or seg == 2)
                        and rules_hold(
                            i, j, service_id, domain, aa_ptr, aa_groups, aa_key,
                            aa_limit, aa_off, aa_own_key, sp_group, sp_key, sp_skew,
                            sp_off, sp_min, af_group, af_required, af_self, at_key,
                            at_off, at_total, counts,
                        )
                    ):
                        continue
                    key = score_of(kind, residual, capacity, j, req, scale, base)
                    if rule == WORST:
                        key = -key
                    pref = 0
                    if prefer:
                        x = domain[at_key[a], j]
                        if x >= 0 and counts[at_off[a] + x] >= 1:
                            pref = 1
                    if pref > best_pref or (pref == best_pref and key > best_key):
                        best, best_pref, best_key = j, pref, key
                    if seg < 2:
                        found += 1
                        last = j
                        if candidates > 0 and found >= candidates:
                            break
            if candidates > 0 and found >= candidates:
                next_start = (last + 1) % m
        if best < 0:
            continue
        j = best
        for k in range(d):
            residual[j, k] -= req[k]
        tree_set(state, j, residual[j], usable[j])
        assignment[i] = j
        if not constrained:
            continue
        s = service_id[i]
        for q in range(aa_ptr[s], aa_ptr[s + 1]):
            g = aa_groups[q]
            x = domain[aa_key[g], j]
            if x >= 0:
                counts[aa_off[g] + x] += 1
        h = sp_group[i]
        if h >= 0:
            slot = sp_off[h] + domain[sp_key[h], j]
            counts[slot] += 1
            if sp_valid[slot] and counts[slot] - 1 == sp_min[h]:
                sp_nmin[h] -= 1
                if sp_nmin[h] == 0:
                    sp_min[h] += 1
                    width = 0
                    for u in range(sp_off[h], sp_off[h] + n_domains[sp_key[h]]):
                        if sp_valid[u] and counts[u] == sp_min[h]:
                            width += 1
                    sp_nmin[h] = width
        for q in range(at_ptr[s], at_ptr[s + 1]):
            g = at_groups[q]
            at_total[g] += 1
            x = domain[at_key[g], j]
            if x >= 0:
                counts[at_off[g] + x] += 1
        ns = ns_id[i]
        if ns >= 0:
            for k in range(d):
                quota_used[ns, k] += req[k]
