"""Plain-language explanations of a ranking result (Articles 16 and 17).

``explain(res, i)`` says why the item in slot ``i`` was shown; ``explain_drops(res)`` says, per
rule, how many candidates were removed and why. Both are built only from what ``rank()`` already
returned (reason bits, drop codes, pin statuses, status) and the request's own inputs, recomputing
the score's parts the way docs/semantics.md defines them (step 2) to name the strongest ones.

Privacy: when the user switched personalisation off (``user.personalized`` is False) the text is
built without reading the user's embedding, interest tags or deleted tags at all, so it cannot
mention them; a test checks that it does not change when they do. No explanation ever states the
user's age, and neither function mentions the elderly or minor status beyond the rule names.

Languages: ``"en"`` and ``"zh"``; both carry the same facts (a test compares their numbers).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .enums import Drop, PinStatus, Reason, Status

LANGS = ("en", "zh")

# How many matched interest tags an explanation names before summarising the rest.
_MAX_TAGS = 3

_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "slot": "Position {pos} (item {item}): ",
        "editorial": "placed here by the editors (editorial pin).",
        "personal_intro": "chosen for you. Main factors, strongest first: {parts}.",
        "opted_out": ("not personalised: you switched personalisation off, so no personal data was used; "
                      "ranked by {basis}."),
        "basis_prior": "general popularity and quality only ({value})",
        "basis_default": "the platform's default order (no score factors apply)",
        "no_factors": "ranked in the platform's default order (no score factors apply).",
        "part_rel": "similarity to your interest profile ({value})",
        "part_tag": "your interest tags {tags} ({value})",
        "part_tag_one": "your interest tag {tags} ({value})",
        "part_prior": "general popularity and quality ({value})",
        "tag": "#{tag}",
        "more_tags": " and {n} more",
        "list_sep": ", ",
        "list_last": " and ",
        "featured": "It is a featured item.",
        "featured_key": "It is a featured item, shown in one of the first {key} key positions.",
        "diversity_mmr": "It was picked among the best-scoring items to keep the feed varied (MMR diversity, lambda {lam}).",
        "diversity_dpp": "It was picked to keep the feed varied (DPP diversity, alpha {alpha}).",
        "score_fill": "The diversity method had no further distinct items, so this position was filled by score.",
        "scatter_relaxed": ("The variety limits (at most the set number of items per category or author in a "
                            "window of positions) could not be met here and were relaxed for this position."),
        "price_clamped": ("Price corrected: the offered price {offered} differed from the reference price "
                          "{reference} by more than the allowed tolerance, so the reference price {reference} "
                          "is shown."),
        "price_flagged": ("Price notice: the offered price {offered} differs from the reference price "
                          "{reference} by more than the allowed tolerance."),
        "sentence_sep": " ",
        # explain_drops
        "drops_head": "{n} candidates: {eligible} eligible, {removed} removed.",
        "drops_none": "No candidate was removed.",
        "drop_line": "- {count} {name}: {why}",
        "status_curfew": "Nothing was served: the minor-mode curfew ({start} to {end}) applies (Art. 18).",
        "status_daily": "Nothing was served: the minor-mode daily time limit was reached (Art. 18).",
        "pin_line": "- Editorial pin: item {item} for position {pos} was not placed: {why}.",
        "pin_ineligible": "not eligible ({rule})",
        "pin_ineligible_unknown": "not eligible",
    },
    "zh": {
        "slot": "第 {pos} 位（内容 {item}）：",
        "editorial": "由编辑人工置顶在此位置（编辑推荐位）。",
        "personal_intro": "为您个性化推荐。主要因素（由强到弱）：{parts}。",
        "opted_out": "未个性化：您已关闭个性化推荐，未使用任何个人数据；按{basis}排序。",
        "basis_prior": "内容的总体热度与质量（{value}）",
        "basis_default": "平台默认顺序（无评分因素）",
        "no_factors": "按平台默认顺序排列（无评分因素）。",
        "part_rel": "与您的兴趣画像相似（{value}）",
        "part_tag": "匹配您的兴趣标签 {tags}（{value}）",
        "part_tag_one": "匹配您的兴趣标签 {tags}（{value}）",
        "part_prior": "内容的总体热度与质量（{value}）",
        "tag": "#{tag}",
        "more_tags": " 等另外 {n} 个",
        "list_sep": "、",
        "list_last": "、",
        "featured": "该内容为精选内容。",
        "featured_key": "该内容为精选内容，展示在前 {key} 个重点位置之一。",
        "diversity_mmr": "为保持信息流多样，从评分较高的内容中选出（MMR 多样性，lambda {lam}）。",
        "diversity_dpp": "为保持信息流多样而选出（DPP 多样性，alpha {alpha}）。",
        "score_fill": "多样性方法已无更多差异化内容，此位置按评分填充。",
        "scatter_relaxed": "此位置无法满足打散限制（同一类别或作者在连续位置内的数量上限），已对该位置放宽。",
        "price_clamped": "价格已更正：报价 {offered} 与参考价 {reference} 的差额超出允许范围，现展示参考价 {reference}。",
        "price_flagged": "价格提示：报价 {offered} 与参考价 {reference} 的差额超出允许范围。",
        "sentence_sep": "",
        "drops_head": "候选 {n} 个：{eligible} 个合格，{removed} 个被移除。",
        "drops_none": "没有候选被移除。",
        "drop_line": "- {count} 个 {name}：{why}",
        "status_curfew": "未提供任何内容：未成年人模式宵禁时段（{start} 至 {end}）生效（第 18 条）。",
        "status_daily": "未提供任何内容：已达到未成年人模式每日使用时长上限（第 18 条）。",
        "pin_line": "- 编辑推荐位：内容 {item} 未能放在第 {pos} 位：{why}。",
        "pin_ineligible": "不符合条件（{rule}）",
        "pin_ineligible_unknown": "不符合条件",
    },
}

# Per drop rule: a short name and the reason, with the article it implements.
_DROP_TEXT: dict[str, dict[Drop, tuple[str, str]]] = {
    "en": {
        Drop.DUPLICATE: ("duplicate", "the same item id appeared earlier in the candidate list"),
        Drop.BLOCKED: ("blocked", "marked unlawful or blocked, never served (Art. 9)"),
        Drop.UNLABELED_SYNTHETIC: ("unlabelled synthetic",
                                   "AI-generated or synthetic content without a label (Art. 9)"),
        Drop.MINOR_AGE: ("age rating", "rated above the permitted age band (Art. 18)"),
        Drop.MINOR_HARMFUL: ("harmful for minors", "content flagged as harmful is not shown in minor mode (Art. 18)"),
        Drop.FRAUD_RISK: ("fraud risk", "fraud risk above the threshold {thr} (Art. 19)"),
        Drop.PRICE_PARITY: ("price parity",
                            "offered price differs from the reference price beyond the tolerance (Art. 21)"),
        Drop.DELETED_TAG: ("deleted tag", "carries an interest tag the user deleted (Art. 17)"),
        Drop.SEEN: ("already shown", "shown earlier, not repeated"),
    },
    "zh": {
        Drop.DUPLICATE: ("重复", "相同内容 ID 在候选列表中已出现过"),
        Drop.BLOCKED: ("已屏蔽", "被标记为违法或已屏蔽，从不展示（第 9 条）"),
        Drop.UNLABELED_SYNTHETIC: ("未标识的合成内容", "生成或合成内容未作显著标识（第 9 条）"),
        Drop.MINOR_AGE: ("年龄分级", "内容分级高于允许的年龄段（第 18 条）"),
        Drop.MINOR_HARMFUL: ("不适宜未成年人", "未成年人模式下不展示被标记为有害的内容（第 18 条）"),
        Drop.FRAUD_RISK: ("欺诈风险", "欺诈风险高于阈值 {thr}（第 19 条）"),
        Drop.PRICE_PARITY: ("价格一致性", "报价与参考价的差额超出允许范围（第 21 条）"),
        Drop.DELETED_TAG: ("已删除标签", "带有用户已删除的兴趣标签（第 17 条）"),
        Drop.SEEN: ("已展示", "此前已展示过，不再重复"),
    },
}

_PIN_TEXT: dict[str, dict[PinStatus, str]] = {
    "en": {
        PinStatus.NOT_IN_CANDIDATES: "the item was not among the candidates",
        PinStatus.BEYOND_K: "the position is beyond the page length",
        PinStatus.HARMFUL_IN_KEY_SLOT: "content flagged as harmful may not take a key position",
        PinStatus.UNREACHED: "the page ended before that position (no eligible items left)",
    },
    "zh": {
        PinStatus.NOT_IN_CANDIDATES: "该内容不在候选中",
        PinStatus.BEYOND_K: "该位置超出页面长度",
        PinStatus.HARMFUL_IN_KEY_SLOT: "被标记为有害的内容不得占用重点位置",
        PinStatus.UNREACHED: "页面在该位置之前结束（已无合格内容）",
    },
}


def _check_lang(lang: str) -> dict[str, str]:
    if lang not in _TEXT:
        raise ValueError(f"lang: expected one of {LANGS}, got {lang!r}")
    return _TEXT[lang]


def _num(x: float) -> str:
    """A short signed number for a score part: +0.62, -0.031, +1.2e-05."""
    if x == 0:
        return "0"
    if abs(x) >= 0.01:
        return f"{x:+.2f}"
    return f"{x:+.2g}"


def _price(x: float) -> str:
    return f"{x:.2f}"


def _join(items: list[str], t: dict[str, str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return t["list_sep"].join(items[:-1]) + t["list_last"] + items[-1]


def _policy_dict(res: Any) -> dict[str, Any]:
    return res.policy.to_dict()


def _slot_index(res: Any, i: Any) -> int:
    n = len(res.indices)
    try:
        i = int(i)
    except (TypeError, ValueError):
        raise TypeError(f"i: expected a slot number, got {type(i).__name__} ({i!r})") from None
    if not -n <= i < n:
        if n == 0:
            status = Status(int(res.status))
            raise IndexError(f"i: the result has no slots (status {status.name}); use explain_drops() for why")
        raise IndexError(f"i: slot {i} out of range; the result has {n} slots (0..{n - 1})")
    return i % n


def _active_tags(res: Any, pol: dict[str, Any]) -> dict[int, float]:
    """The user's interest tags that may count (docs/semantics.md step 2): minus deleted, minus
    forbidden, minus zero weights. Only ever called for personalised requests."""
    user = res.user
    removed = set(int(t) for t in user.deleted_tags) | set(int(t) for t in pol["tags"]["forbidden"])
    return {int(t): float(w) for t, w in zip(user.tag_ids.tolist(), user.tag_weights.tolist())
            if int(t) not in removed and w != 0.0}


def score_parts(res: Any, i: int) -> dict[str, Any]:
    """The parts of slot ``i``'s score as docs/semantics.md step 2 defines them, in double.

    Returns ``{"relevance": float, "tag": float, "prior": float, "matched_tags": [(tag, weight)]}``;
    for an opted-out user only ``prior`` is computed (the other parts are 0 and no personal input is read).
    """
    pol = _policy_dict(res)
    w = pol["weights"]
    c = int(res.indices[i])
    cands = res.candidates
    parts: dict[str, Any] = {"relevance": 0.0, "tag": 0.0, "prior": w["prior"] * float(cands.prior[c]),
                             "matched_tags": []}
    if not res.user.personalized:
        return parts
    u = np.asarray(res.user.embedding, dtype=np.float64)
    e = np.asarray(cands.embedding[c], dtype=np.float64)
    parts["relevance"] = w["relevance"] * float(np.dot(u, e))
    active = _active_tags(res, pol)
    matched = sorted({t for t in cands.tags_of(c) if t in active})
    pairs = [(t, active[t]) for t in matched]
    parts["tag"] = w["tag"] * math.fsum(wt for _, wt in pairs)
    parts["matched_tags"] = sorted(pairs, key=lambda tw: (-abs(tw[1]), tw[0]))
    return parts


def explain(res: Any, i: int, lang: str = "en") -> str:
    """A short plain-language reason for the item in slot ``i`` of ``res``.

    Built from the slot's reason bits and its strongest score contributions: which of the user's
    interest tags matched, similarity to the profile, general popularity, whether the item was an
    editorial pin, featured, chosen for diversity, and whether its price was corrected. For a user
    who opted out of personalisation no personal data is read or mentioned.
    """
    t = _check_lang(lang)
    i = _slot_index(res, i)
    bits = Reason(int(res.reasons[i]))
    pol = _policy_dict(res)
    out = [t["slot"].format(pos=i + 1, item=int(res.item_ids[i]))]

    if bits & Reason.EDITORIAL:
        out.append(t["editorial"])
    elif bits & Reason.NON_PERSONALIZED or not res.user.personalized:
        if bits & Reason.PRIOR:
            prior_part = score_parts(res, i)["prior"]
            basis = t["basis_prior"].format(value=_num(prior_part))
        else:
            basis = t["basis_default"]
        out.append(t["opted_out"].format(basis=basis))
    else:
        parts = score_parts(res, i)
        named: list[tuple[float, str]] = []
        if bits & Reason.PERSONAL:
            named.append((parts["relevance"], t["part_rel"].format(value=_num(parts["relevance"]))))
        if bits & Reason.TAG_MATCH and parts["matched_tags"]:
            tags = [t["tag"].format(tag=tag) for tag, _ in parts["matched_tags"][:_MAX_TAGS]]
            text = _join(tags, t)
            extra = len(parts["matched_tags"]) - _MAX_TAGS
            if extra > 0:
                text += t["more_tags"].format(n=extra)
            template = t["part_tag_one"] if len(parts["matched_tags"]) == 1 else t["part_tag"]
            named.append((parts["tag"], template.format(tags=text, value=_num(parts["tag"]))))
        if bits & Reason.PRIOR:
            named.append((parts["prior"], t["part_prior"].format(value=_num(parts["prior"]))))
        named.sort(key=lambda p: -abs(p[0]))  # stable: ties keep relevance, tag, prior order
        if named:
            out.append(t["personal_intro"].format(parts=t["list_sep"].join(text for _, text in named)))
        else:
            out.append(t["no_factors"])

    extra_sentences: list[str] = []
    if bits & Reason.FEATURED:
        key = int(pol["key_slots"]["count"])
        extra_sentences.append(t["featured_key"].format(key=key) if i < key else t["featured"])
    if bits & Reason.DIVERSITY:
        dv = pol["diversity"]
        if dv["method"] == "dpp":
            extra_sentences.append(t["diversity_dpp"].format(alpha=f"{dv['alpha']:g}"))
        else:
            extra_sentences.append(t["diversity_mmr"].format(lam=f"{dv['lambda']:g}"))
    if bits & Reason.SCORE_FILL:
        extra_sentences.append(t["score_fill"])
    if bits & Reason.SCATTER_RELAXED:
        extra_sentences.append(t["scatter_relaxed"])
    if bits & (Reason.PRICE_CLAMPED | Reason.PRICE_FLAGGED):
        c = int(res.indices[i])
        cands = res.candidates
        offered = float(cands.offered_price[c]) if cands.offered_price is not None else float("nan")
        reference = float(cands.reference_price[c]) if cands.reference_price is not None else float("nan")
        key = "price_clamped" if bits & Reason.PRICE_CLAMPED else "price_flagged"
        extra_sentences.append(t[key].format(offered=_price(offered), reference=_price(reference)))
    if extra_sentences:
        out.append(t["sentence_sep"] + t["sentence_sep"].join(extra_sentences))
    return "".join(out)


def _fraud_threshold(res: Any, pol: dict[str, Any]) -> float:
    f = pol["fraud"]
    thr = float(f["max_risk"])
    if res.user.elderly:
        thr = min(thr, float(f["elderly_max_risk"]))
    return thr


def _count(counts: Any, rule: Drop) -> int:
    if rule in counts:
        return int(counts[rule])
    return int(counts.get(int(rule), counts.get(rule.name, 0)))


def explain_drops(res: Any, lang: str = "en") -> str:
    """Per rule, how many candidates were removed and why; plus why nothing was served (curfew,
    daily limit) and why an editorial pin was not placed. One line each, rules in pipeline order."""
    t = _check_lang(lang)
    pol = _policy_dict(res)
    counts = res.counts
    n = int(res.candidates.n)
    eligible = _count(counts, Drop.ELIGIBLE)
    lines: list[str] = []
    status = Status(int(res.status))
    if status == Status.CURFEW:
        lines.append(t["status_curfew"].format(start=pol["minor"]["curfew_start"], end=pol["minor"]["curfew_end"]))
    elif status == Status.DAILY_LIMIT:
        lines.append(t["status_daily"])
    lines.append(t["drops_head"].format(n=n, eligible=eligible, removed=n - eligible))
    any_removed = False
    for rule in Drop:
        if rule == Drop.ELIGIBLE:
            continue
        count = _count(counts, rule)
        if count == 0:
            continue
        any_removed = True
        name, why = _DROP_TEXT[lang][rule]
        if rule == Drop.FRAUD_RISK:
            why = why.format(thr=f"{_fraud_threshold(res, pol):g}")
        lines.append(t["drop_line"].format(count=count, name=name, why=why))
    if not any_removed:
        lines.append(t["drops_none"])
    if status == Status.OK:
        drop_codes = res.drop_codes
        item_ids = res.candidates.item_id
        for pin, ps in zip(pol["pins"], res.pin_status):
            ps = PinStatus(int(ps))
            if ps in (PinStatus.PLACED, PinStatus.NOT_SERVED):
                continue
            if ps == PinStatus.INELIGIBLE:
                hits = np.flatnonzero(item_ids == pin["item_id"])
                code = Drop(int(drop_codes[hits[0]])) if hits.size else Drop.ELIGIBLE
                why = (t["pin_ineligible"].format(rule=_DROP_TEXT[lang][code][0]) if code != Drop.ELIGIBLE
                       else t["pin_ineligible_unknown"])
            else:
                why = _PIN_TEXT[lang][ps]
            lines.append(t["pin_line"].format(item=pin["item_id"], pos=pin["slot"] + 1, why=why))
    return "\n".join(lines)


__all__ = ["LANGS", "explain", "explain_drops", "score_parts"]
