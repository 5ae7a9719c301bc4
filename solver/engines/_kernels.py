"""Numba kernels of the greedy engines: one pass over the containers in a set order.

Only ``@njit(cache=True)`` functions over flat arrays live here; ``greedy.py`` builds
the inputs and wraps the result. The search for machines goes through the first-fit
tree of ``_tree_kernels`` (``tree_find`` returns the smallest usable machine index
>= lo whose residual covers a request; ``tree_set`` records a changed residual):

- first fit: one ``tree_find(state, req, 0)`` per container when it has no rules; with
  rules, the next ``tree_find`` from ``j + 1`` while machine ``j`` breaks one;
- best / worst fit scoring every machine: one plain pass over the machines (a few
  integer compares each), no tree calls;
- best / worst fit with ``candidates`` = K: feasible machines are visited in index
  order from a rotating start (Kubernetes' ``nextStartNodeIndex``) until K of them are
  scored; a few neighbours are probed directly before jumping with the tree;
- bin-centric rules (``open_first``, the vector bin-packing heuristics FFD / BFD / WFD /
  Dot-Product / L2): only machines already in use are scored (a second tree holds the
  empty ones); a new machine is opened only when none of them is admissible, choosing
  the best-scored empty machine, ties lowest index. Empty machines of one capacity type
  score alike, so one admissible machine per type is enough.

GPU sharing adds two virtual dimensions after the real ones: a machine's count of fully
free devices and its largest free share on one device, against a request's
``(num_gpu, gpu_milli)``. Both are monotone, so the tree stays exact; they are
recomputed from the per-device free milli-GPU (``gfree``, machine j's devices at
``gfree[goff[j]:goff[j + 1]]``) after each placement.

Scores are "higher is better" for best fit (worst fit takes the lowest); a container
whose preferred affinity holds on a machine ranks that machine above all others.
Resource amounts stay int64; scores are float64 built from the first ``dr`` (real)
dimensions, normalised per dimension (``scale[k] = 1 / largest capacity``) or, for the
Kubernetes, Nomad and E-PVM scores, by the machine's own capacity.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._tree_kernels import tree_find, tree_set

FIRST, BEST, WORST = 0, 1, 2
SUM, L2, DOT, K8S_LEAST, K8S_MOST, K8S_BALANCED, EPVM, NOMAD = range(8)
_PROBE = 8  # machines checked directly before asking the tree for a jump
GPU_MILLI = 1000  # milli-GPU per device


@njit(cache=True, inline="always")
def fits(residual, j, req):
    """True when machine ``j``'s residual covers ``req`` in every dimension."""
    for k in range(req.shape[0]):  # noqa: SIM110  (Numba has no generator closures)
        if residual[j, k] < req[k]:
            return False
    return True


@njit(cache=True, inline="always")
def score_of(kind, residual, capacity, j, req, scale, base, dr):
    """Score of placing ``req`` on machine ``j`` (higher = better under best fit)."""
    d = dr
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
def next_fit(state, residual, req, lo, hi):
    """Smallest machine j in [lo, hi) usable in ``state`` that covers ``req``, or -1."""
    usable = state[1]
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


@njit(cache=True, inline="always")
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


@njit(cache=True, inline="always")
def admissible(
    i, j, cordoned, eclass, eligible, service_id, domain, aa_ptr, aa_groups, aa_key,
    aa_limit, aa_off, aa_own_key, sp_group, sp_key, sp_skew, sp_off, sp_min, af_group,
    af_required, af_self, at_key, at_off, at_total, counts,
):
    """Selector, taints and the placement rules allow container i on machine j.

    ``cordoned`` marks the container's own cordoned current machine, which the
    eligibility table (machines up only) leaves out.
    """
    if not (eligible[eclass[i], j] or cordoned):
        return False
    return rules_hold(
        i, j, service_id, domain, aa_ptr, aa_groups, aa_key, aa_limit, aa_off,
        aa_own_key, sp_group, sp_key, sp_skew, sp_off, sp_min, af_group, af_required,
        af_self, at_key, at_off, at_total, counts,
    )


@njit(cache=True)
def preferred(i, j, rules, counts):
    """1 when container i's preferred affinity holds on machine j, else 0."""
    a = rules[14][i]
    x = rules[1][rules[19][a], j]
    return 1 if x >= 0 and counts[rules[20][a] + x] >= 1 else 0


@njit(cache=True)
def gpu_features(gfree, goff, j):
    """(fully free devices, largest free share on one device) of machine j."""
    whole = 0
    top = 0
    for u in range(goff[j], goff[j + 1]):
        f = gfree[u]
        if f == GPU_MILLI:
            whole += 1
        if f > top:
            top = f
    return whole, top


@njit(cache=True)
def take_devices(gfree, goff, j, num_gpu, milli, out):
    """Give a container devices of machine j; their indices (on j) go to ``out``.

    Whole GPUs take the lowest-index fully free devices; a share takes the device
    with the least free milli-GPU that holds it, ties lowest index.
    """
    t = 0
    if num_gpu > 0:
        for u in range(goff[j], goff[j + 1]):
            if t < num_gpu and gfree[u] == GPU_MILLI:
                gfree[u] = 0
                out[t] = u - goff[j]
                t += 1
    elif milli > 0:
        pick = -1
        for u in range(goff[j], goff[j + 1]):
            if gfree[u] >= milli and (pick < 0 or gfree[u] < gfree[pick]):
                pick = u
        gfree[pick] -= milli
        out[0] = pick - goff[j]


@njit(cache=True)
def greedy_pass(
    requests, order, state, estate, residual, capacity, scale, dr, rule, kind,
    candidates, base, open_first, mtype, ntypes, constrained, eclass, eligible, stay,
    pin, rules, sp_min, sp_nmin, at_total, ns_id, quota, quota_used, counts, gpu, gfree,
    goff, devices, assignment,
):
    """Place ``order``'s containers one by one; fills ``assignment`` (int32, -1 = none).

    ``state`` is the tree of the machines a scoring rule looks at (all usable ones, or
    with ``open_first`` the usable machines in use) and ``estate`` that of the usable
    empty machines (only read with ``open_first``). ``residual``, both trees,
    ``counts``, ``sp_min``, ``sp_nmin``, ``at_total``, ``quota_used``, ``gfree`` and
    ``devices`` are updated in place and describe the final state. With
    ``constrained`` false only machine usability and capacity are checked. With
    ``gpu`` the last two columns of ``requests`` and ``residual`` are the GPU
    features.
    """
    m = residual.shape[0]
    d = requests.shape[1]
    dq = quota.shape[1]
    service_id, domain = rules[0], rules[1]
    aa_ptr, aa_groups, aa_key = rules[3], rules[4], rules[5]
    aa_limit, aa_off, aa_own_key = rules[6], rules[7], rules[8]
    sp_group, sp_key, sp_skew, sp_off = rules[9], rules[10], rules[11], rules[12]
    af_group, af_required, af_self = rules[14], rules[15], rules[16]
    at_key, at_off = rules[19], rules[20]
    seen = np.full(max(ntypes, 1), -1, np.int64)
    next_start = 0
    for t in range(order.shape[0]):
        i = order[t]
        req = requests[i]
        if constrained:
            ns = ns_id[i]
            if ns >= 0:
                over = False
                for k in range(dq):
                    if req[k] > quota[ns, k] - quota_used[ns, k]:
                        over = True
                if over:
                    continue
        best = -1
        p = pin[i] if constrained else -1
        cur = stay[i] if constrained else -1
        if p >= 0:
            if fits(residual, p, req) and admissible(
                i, p, cur == p, eclass, eligible, service_id, domain, aa_ptr,
                aa_groups, aa_key, aa_limit, aa_off, aa_own_key, sp_group, sp_key,
                sp_skew, sp_off, sp_min, af_group, af_required, af_self, at_key,
                at_off, at_total, counts,
            ):
                best = p
        elif rule == FIRST:
            lo = 0
            while lo < m:
                j = next_fit(state, residual, req, lo, m)
                if j < 0:
                    break
                if not constrained or admissible(
                    i, j, False, eclass, eligible, service_id, domain, aa_ptr,
                    aa_groups, aa_key, aa_limit, aa_off, aa_own_key, sp_group, sp_key,
                    sp_skew, sp_off, sp_min, af_group, af_required, af_self, at_key,
                    at_off, at_total, counts,
                ):
                    best = j
                    break
                lo = j + 1
            if (
                cur >= 0
                and (best < 0 or cur < best)
                and fits(residual, cur, req)
                and rules_hold(
                    i, cur, service_id, domain, aa_ptr, aa_groups, aa_key,
                    aa_limit, aa_off, aa_own_key, sp_group, sp_key, sp_skew, sp_off,
                    sp_min, af_group, af_required, af_self, at_key, at_off, at_total,
                    counts,
                )
            ):
                best = cur
        else:
            usable = state[1]
            prefer = constrained and af_group[i] >= 0 and not af_required[i]
            found = 0
            last = -1
            best_pref = -1
            best_key = -np.inf
            if candidates == 0:  # score every machine: one plain pass, no tree
                for j in range(m):
                    if not (usable[j] and fits(residual, j, req)):
                        continue
                    if constrained and not admissible(
                        i, j, False, eclass, eligible, service_id, domain,
                        aa_ptr, aa_groups, aa_key, aa_limit, aa_off, aa_own_key,
                        sp_group, sp_key, sp_skew, sp_off, sp_min, af_group,
                        af_required, af_self, at_key, at_off, at_total, counts,
                    ):
                        continue
                    key = score_of(kind, residual, capacity, j, req, scale, base, dr)
                    if rule == WORST:
                        key = -key
                    pref = preferred(i, j, rules, counts) if prefer else 0
                    if pref > best_pref or (pref == best_pref and key > best_key):
                        best, best_pref, best_key = j, pref, key
            else:
                start = next_start
                for seg in range(2):
                    if seg == 1 and found >= candidates:
                        break  # enough candidates before the wrap-around
                    lo = start if seg == 0 else 0
                    hi = m if seg == 0 else start
                    while lo < hi:
                        j = next_fit(state, residual, req, lo, hi)
                        if j < 0:
                            break
                        lo = j + 1
                        if constrained and not admissible(
                            i, j, False, eclass, eligible, service_id, domain,
                            aa_ptr, aa_groups, aa_key, aa_limit, aa_off, aa_own_key,
                            sp_group, sp_key, sp_skew, sp_off, sp_min, af_group,
                            af_required, af_self, at_key, at_off, at_total, counts,
                        ):
                            continue
                        key = score_of(kind, residual, capacity, j, req, scale, base,
                                       dr)
                        if rule == WORST:
                            key = -key
                        pref = preferred(i, j, rules, counts) if prefer else 0
                        if pref > best_pref or (pref == best_pref and key > best_key):
                            best, best_pref, best_key = j, pref, key
                        found += 1
                        last = j
                        if found >= candidates:
                            break
                if found >= candidates:
                    next_start = (last + 1) % m
            # a cordoned machine the container already runs on
            if cur >= 0 and fits(residual, cur, req) and rules_hold(
                i, cur, service_id, domain, aa_ptr, aa_groups, aa_key,
                aa_limit, aa_off, aa_own_key, sp_group, sp_key, sp_skew, sp_off,
                sp_min, af_group, af_required, af_self, at_key, at_off, at_total,
                counts,
            ):
                key = score_of(kind, residual, capacity, cur, req, scale, base, dr)
                if rule == WORST:
                    key = -key
                pref = preferred(i, cur, rules, counts) if prefer else 0
                if pref > best_pref or (pref == best_pref and key > best_key):
                    best, best_pref, best_key = cur, pref, key
            if best < 0 and open_first:
                best = open_machine(
                    i, req, estate, residual, capacity, scale, dr, rule, kind, base,
                    mtype, ntypes, seen, t, constrained, eclass, eligible, rules,
                    counts, sp_min, at_total,
                )
        if best < 0:
            continue
        j = best
        for k in range(d):
            residual[j, k] -= req[k]
        if gpu:
            take_devices(gfree, goff, j, req[d - 2], req[d - 1], devices[i])
            whole, top = gpu_features(gfree, goff, j)
            residual[j, d - 2] = whole
            residual[j, d - 1] = top
        if open_first and estate[1][j]:
            tree_set(estate, j, residual[j], False)
            tree_set(state, j, residual[j], True)
        else:
            tree_set(state, j, residual[j], state[1][j])
        assignment[i] = j
        if not constrained:
            continue
        record(i, j, rules, counts, sp_min, sp_nmin, at_total)
        ns = ns_id[i]
        if ns >= 0:
            for k in range(dq):
                quota_used[ns, k] += req[k]


@njit(cache=True)
def open_machine(
    i, req, estate, residual, capacity, scale, dr, rule, kind, base, mtype, ntypes,
    seen, stamp, constrained, eclass, eligible, rules, counts, sp_min, at_total,
):
    """Best-scored admissible empty machine for container i (ties lowest index), or -1.

    Without a preferred affinity, empty machines of one capacity type score alike, so
    only the first admissible machine of each type is scored, and the search stops
    once every type has one.
    """
    m = residual.shape[0]
    service_id, domain = rules[0], rules[1]
    aa_ptr, aa_groups, aa_key = rules[3], rules[4], rules[5]
    aa_limit, aa_off, aa_own_key = rules[6], rules[7], rules[8]
    sp_group, sp_key, sp_skew, sp_off = rules[9], rules[10], rules[11], rules[12]
    af_group, af_required, af_self = rules[14], rules[15], rules[16]
    at_key, at_off = rules[19], rules[20]
    a = af_group[i] if constrained else -1
    prefer = a >= 0 and not af_required[i]
    best = -1
    best_pref = -1
    best_key = -np.inf
    typed = 0
    lo = 0
    while lo < m:
        j = next_fit(estate, residual, req, lo, m)
        if j < 0:
            break
        lo = j + 1
        u = mtype[j]
        if not prefer and seen[u] == stamp:
            continue
        if constrained and not admissible(
            i, j, False, eclass, eligible, service_id, domain, aa_ptr,
            aa_groups, aa_key, aa_limit, aa_off, aa_own_key, sp_group, sp_key,
            sp_skew, sp_off, sp_min, af_group, af_required, af_self, at_key,
            at_off, at_total, counts,
        ):
            continue
        key = score_of(kind, residual, capacity, j, req, scale, base, dr)
        if rule == WORST:
            key = -key
        pref = preferred(i, j, rules, counts) if prefer else 0
        if pref > best_pref or (pref == best_pref and key > best_key):
            best, best_pref, best_key = j, pref, key
        if not prefer:
            seen[u] = stamp
            typed += 1
            if typed >= ntypes:
                break
    return best


@njit(cache=True)
def record(i, j, rules, counts, sp_min, sp_nmin, at_total):
    """Count container i on machine j in its anti-affinity, spread, affinity groups."""
    service_id, domain, n_domains = rules[0], rules[1], rules[2]
    aa_ptr, aa_groups, aa_key, aa_off = rules[3], rules[4], rules[5], rules[7]
    sp_group, sp_key, sp_off, sp_valid = rules[9], rules[10], rules[12], rules[13]
    at_ptr, at_groups, at_key, at_off = rules[17], rules[18], rules[19], rules[20]
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
