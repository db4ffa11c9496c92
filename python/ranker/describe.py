"""The algorithm's public description, generated from a policy (Article 16 and the filing system).

``describe(policy, lang="en")`` returns Markdown with the items a public notice and the algorithm
filing ask for: basic principles, purpose, main mechanisms, the signals used, and the user's rights
(switching personalisation off, deleting interest tags, minor mode, elderly protection,
explanations, complaints). Every statement is derived from the policy's values and from the
pipeline documented in docs/semantics.md; nothing is free text an operator could let drift from
the code. The one fact a policy cannot know, where complaints go, is taken from ``contact``; without
it the section says plainly that the operator must fill it in.

Both languages carry the same facts: the same sections and the same numbers (a test compares them).

Command line: ``ranker describe POLICY.toml [--lang zh] [--contact TEXT] [--output FILE]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable, Optional

from .record import package_version

LANGS = ("en", "zh")


def _num(x: float) -> str:
    return f"{x:g}"


def _facts(policy: Any) -> dict[str, Any]:
    """Everything the description states, from the normalised policy."""
    d = policy.to_dict()
    w = d["weights"]
    sc = d["scatter"]
    bands = sorted((int(a), int(m)) for a, m in d["minor"]["daily_minutes"].items())
    k = int(d["k"])
    from .policy import share_cap

    return {
        "hash": policy.hash,
        "k": k,
        "w_rel": float(w["relevance"]), "w_tag": float(w["tag"]), "w_prior": float(w["prior"]),
        "forbidden": list(d["tags"]["forbidden"]),
        "deletion": d["tags"]["deletion"],
        "curfew_start": d["minor"]["curfew_start"], "curfew_end": d["minor"]["curfew_end"],
        "bands": bands,
        "max_risk": float(d["fraud"]["max_risk"]), "elderly_max_risk": float(d["fraud"]["elderly_max_risk"]),
        "price_action": d["price"]["action"],
        "abs_tol": float(d["price"]["abs_tol"]), "rel_tol": float(d["price"]["rel_tol"]),
        "key_count": int(d["key_slots"]["count"]), "featured_min": int(d["key_slots"]["featured_min"]),
        "pins": [(int(p["item_id"]), int(p["slot"])) for p in d["pins"]],
        "method": d["diversity"]["method"], "lam": float(d["diversity"]["lambda"]),
        "alpha": float(d["diversity"]["alpha"]), "pool": int(d["diversity"]["candidates"]),
        "cat_window": int(sc["category_window"]), "cat_max": int(sc["category_max"]),
        "auth_window": int(sc["author_window"]), "auth_max": int(sc["author_max"]),
        "share": float(sc["category_share"]),
        "share_cap": share_cap(float(sc["category_share"]), k) if sc["category_share"] < 1.0 else None,
    }


def _items(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _elderly_thr(f: dict[str, Any]) -> float:
    return min(f["max_risk"], f["elderly_max_risk"])


def _bands_en(bands: list[tuple[int, int]]) -> list[str]:
    out, low = [], None
    for age, minutes in bands:
        span = f"under {age}" if low is None else f"{low} to under {age}"
        out.append(f"  - {span} years: at most {minutes} minutes a day")
        low = age
    if bands:
        out.append(f"  - {bands[-1][0]} years and over: no daily limit")
    return out


def _bands_zh(bands: list[tuple[int, int]]) -> list[str]:
    out, low = [], None
    for age, minutes in bands:
        span = f"未满 {age} 周岁" if low is None else f"{low} 周岁至未满 {age} 周岁"
        out.append(f"  - {span}：每日最多 {minutes} 分钟")
        low = age
    if bands:
        out.append(f"  - {bands[-1][0]} 周岁及以上：无每日时长限制")
    return out


def _goals(f: dict[str, Any], zh: bool) -> str:
    """The protective aims the policy actually pursues (lawful content and minor mode always)."""
    goals = ["确保内容合法", "保护未成年人"] if zh else ["keeping content lawful", "protecting minors"]
    stricter = _elderly_thr(f) < f["max_risk"]
    if f["max_risk"] < 1.0:
        goals.append(("排除欺诈风险高的内容" + ("（对老年用户更严格）" if stricter else "")) if zh else
                     "keeping high fraud-risk items out" + (", more strictly for elderly users" if stricter else ""))
    elif stricter:
        goals.append("保护老年人免受欺诈" if zh else "protecting elderly users from fraud")
    if f["price_action"] != "off":
        goals.append("保持价格一致" if zh else "keeping prices consistent")
    if f["method"] != "none" or f["cat_window"] > 0 or f["auth_window"] > 0 or f["share_cap"] is not None:
        goals.append("保持信息流多样" if zh else "keeping the feed varied")
    if zh:
        return "、".join(goals[:-1]) + "并" + goals[-1]
    return ", ".join(goals[:-1]) + " and " + goals[-1]


def _pin_beyond_page(slot: int, k: int, zh: bool) -> str:
    if slot < k:
        return ""
    return (f"（超出本策略的页面长度 {k}，仅适用于请求更长页面的情况）" if zh else
            f" (beyond this policy's page length of {k}: only on requests for longer pages)")


def _render_en(f: dict[str, Any], source: str, contact: Optional[str]) -> str:
    personal = f["w_rel"] != 0 or f["w_tag"] != 0
    L: list[str] = []
    a = L.append
    a("# Recommendation algorithm: public description")
    a("")
    a(f"Generated by ranker {package_version()} from the policy `{source}` (policy hash `{f['hash']}`). "
      "Every statement below follows from that policy and the documented ranking pipeline; each served "
      "result records the same policy hash, so it can be matched to this description.")
    a("")
    a("## 1. Basic principles")
    a("")
    a(f"For each feed request the service ranks a set of candidate items and shows at most {f['k']} of them "
      "(the page length). Ranking runs in four fixed steps:")
    a("")
    a("1. Eligibility: rules remove items that may not be shown to this user (section 3.1).")
    a("2. Scoring: every remaining item gets a score (section 3.2).")
    a("3. Placement: positions are filled one by one under placement rules (section 3.3).")
    a("4. Output: every shown item carries the reasons it was shown; every removed item the rule that removed it.")
    a("")
    a("Protective rules are never relaxed to fill a page. If a rule applies but the data it needs is missing, "
      "the request is refused instead of being served without the rule. Where items are equal, the item that "
      "came earlier in the candidate list is placed first, so the same input always gives the same page.")
    a("")
    a("## 2. Purpose")
    a("")
    if personal:
        a(f"To show each user a page of up to {f['k']} items that match their interests, while "
          f"{_goals(f, zh=False)}. Users who switch personalisation off get the same protections with a "
          "non-personalised ranking.")
    else:
        a(f"To show every user the same kind of page of up to {f['k']} items ranked without personal interest "
          f"signals, while {_goals(f, zh=False)}.")
    a("")
    a("## 3. Main mechanisms")
    a("")
    a("### 3.1 Eligibility (applied in this order)")
    a("")
    a("1. Duplicates: an item that appears twice in one request is shown at most once.")
    a("2. Unlawful content: items marked blocked are never shown (Art. 9).")
    a("3. Synthetic content: AI-generated or synthetic items are shown only when labelled as such (Art. 9).")
    a("4. Age ratings: an item whose minimum age is above the user's age (where known) is removed; in minor mode "
      "a user of unknown age is treated as the youngest age band (Art. 18).")
    a("5. Harmful content: items flagged as harmful are never shown in minor mode (Art. 18).")
    if f["max_risk"] < 1.0 or f["elderly_max_risk"] < 1.0:
        line = "6. Fraud risk: "
        line += (f"items with a fraud risk above {_num(f['max_risk'])} are removed; " if f["max_risk"] < 1.0
                 else "no fraud-risk limit for users in general; ")
        line += f"for elderly users the limit is {_num(_elderly_thr(f))} (Art. 19)."
        a(line)
    else:
        a("6. Fraud risk: not applied by this policy (both thresholds are 1) (Art. 19).")
    tol = f"{_num(f['abs_tol'])} plus {_num(f['rel_tol'])} times the reference price"
    action = {
        "drop": f"items whose offered price differs from the reference price by more than {tol} are removed",
        "clamp": f"where the offered price differs from the reference price by more than {tol}, the reference "
                 "price is shown instead",
        "flag": f"where the offered price differs from the reference price by more than {tol}, the item is "
                "shown with a price notice",
        "off": "not applied by this policy",
    }[f["price_action"]]
    a(f"7. Price consistency: {action} (Art. 21).")
    if f["deletion"] == "suppress":
        a("8. Deleted interest tags: a tag the user deleted no longer counts in the score, and for a user with "
          "personalisation on, items carrying it are not shown (Art. 17).")
    else:
        a("8. Deleted interest tags: a tag the user deleted no longer counts in the score; items carrying it "
          "stay eligible (Art. 17).")
    a("9. Already shown: items the user has already been shown are not repeated.")
    a("")
    a("In minor mode the whole request is refused during the curfew and once the daily time limit is "
      "reached (section 5.3).")
    a("")
    a("### 3.2 Scoring")
    a("")
    a("For a user with personalisation on, the score of an item is")
    a("")
    a(f"    score = {_num(f['w_rel'])} × interest similarity + {_num(f['w_tag'])} × interest-tag match "
      f"+ {_num(f['w_prior'])} × popularity and quality")
    a("")
    a("where interest similarity is the inner product of the user's interest vector and the item's content "
      "vector, and interest-tag match is the sum of the user's weights over the distinct tags the item carries. "
      "Tags the user deleted do not count.")
    if f["forbidden"]:
        a(f"The policy forbids {_items(len(f['forbidden']), 'tag')} as interest signals for everyone: "
          f"{', '.join(str(t) for t in f['forbidden'])} (Art. 10).")
    else:
        a("The policy forbids no tag as an interest signal (Art. 10).")
    a("")
    a(f"For a user with personalisation off: score = {_num(f['w_prior'])} × popularity and quality. "
      "No personal data enters the score (Art. 17).")
    a("")
    a("### 3.3 Placement")
    a("")
    if f["pins"]:
        pins = ", ".join(f"item {item} at position {slot + 1}{_pin_beyond_page(slot, f['k'], zh=False)}"
                         for item, slot in f["pins"])
        a(f"- Editorial placements ({len(f['pins'])}): {pins}. A pinned item that is not eligible for the "
          "user is left out, never replaced by a rule exception.")
    else:
        a("- Editorial placements: none.")
    if f["key_count"] > 0:
        line = f"- Key positions: the first {f['key_count']} positions never hold content flagged as harmful"
        line += (f", and at least {f['featured_min']} of them are featured items when such items are available"
                 if f["featured_min"] > 0 else "")
        a(line + " (Art. 11).")
    else:
        a("- Key positions: none defined (Art. 11).")
    method = {
        "none": "- Order: the remaining positions are filled by score, highest first.",
        "mmr": f"- Diversity (Art. 12): positions are filled by maximal marginal relevance with weight "
               f"{_num(f['lam'])} on the score and {_num(round(1 - f['lam'], 12))} on dissimilarity to items "
               "already shown.",
        "dpp": f"- Diversity (Art. 12): positions are filled by a determinantal point process that trades score "
               f"against similarity (relevance exponent {_num(f['alpha'])}); when no dissimilar item remains, "
               "the rest is filled by score.",
    }[f["method"]]
    a(method)
    if f["pool"] > 0:
        a(f"- Only the {f['pool']} best-scoring eligible items are considered for open positions.")
    scatter = []
    if f["cat_window"] > 0:
        scatter.append(f"at most {_items(f['cat_max'], 'item')} of one category in any {f['cat_window']} "
                       "consecutive positions")
    if f["auth_window"] > 0:
        scatter.append(f"at most {_items(f['auth_max'], 'item')} of one author in any {f['auth_window']} "
                       "consecutive positions")
    if f["share_cap"] is not None:
        scatter.append(f"at most a share of {_num(f['share'])} of the page from one category "
                       f"({f['share_cap']} of {f['k']} items)")
    if scatter:
        a("- Scattering (Art. 12): " + "; ".join(scatter) + ". These limits continue across pages; where no "
          "item can meet them at a position they are relaxed for that position only, and the position records it.")
    else:
        a("- Scattering (Art. 12): no category or author limits are set.")
    a("")
    a("### 3.4 Reasons and records")
    a("")
    a("Every shown item carries reason codes (interest match, interest-tag match, popularity, not personalised, "
      "editorial, featured, diversity, limits relaxed, price corrected, price notice). Every removed item carries "
      "the rule that removed it. Each result records the policy hash, the software that produced it and the "
      "user's mode (personalisation off, minor mode, elderly); audit records hold no interest data (Art. 16, 28).")
    a("")
    a("## 4. Signals used")
    a("")
    a("| signal | used for | in this policy |")
    a("| --- | --- | --- |")
    use = lambda on: "used" if on else "not used"  # noqa: E731
    a(f"| user's interest vector and item content vector | interest similarity | "
      f"{use(f['w_rel'] != 0)} (weight {_num(f['w_rel'])}), personalisation on only |")
    a(f"| user's interest tags and weights, item tags | interest-tag match | "
      f"{use(f['w_tag'] != 0)} (weight {_num(f['w_tag'])}), personalisation on only |")
    a(f"| item popularity and quality (not personal) | score | {use(f['w_prior'] != 0)} (weight {_num(f['w_prior'])}) |")
    a("| tags the user deleted | removing them from the score"
      + (", removing items that carry them" if f["deletion"] == "suppress" else "") + " | used |")
    a("| item content flags (blocked, harmful, synthetic, labelled, featured) | eligibility, key positions | used |")
    a("| item age rating, user's age and minor mode | age gate, minor mode | used |")
    a("| local time and today's usage | curfew and daily limit, minor mode only | used |")
    a(f"| item fraud risk, user's elderly mode | fraud-risk limit | "
      f"{use(f['max_risk'] < 1.0 or f['elderly_max_risk'] < 1.0)} |")
    a(f"| offered and reference prices | price consistency | {use(f['price_action'] != 'off')} |")
    a(f"| item category and author, items shown before | scattering, diversity | "
      f"{use(bool(scatter) or f['method'] != 'none')} |")
    a("| items already shown to the user | no repeats | used |")
    a("")
    a("No other signal enters the ranking.")
    a("")
    a("## 5. User rights")
    a("")
    a("### 5.1 Switching personalisation off (Art. 17)")
    a("")
    a("Users can switch personalised recommendations off. The ranking then uses no personal data: not the "
      "interest vector, not the interest tags, not the deleted tags; the score is popularity and quality "
      f"only (weight {_num(f['w_prior'])}). All protections of sections 3.1 and 3.3 still apply.")
    a("")
    a("### 5.2 Deleting interest tags (Art. 17)")
    a("")
    if f["deletion"] == "suppress":
        a("Users can delete interest tags. A deleted tag no longer counts in the score, and while personalisation "
          "is on, items carrying it are no longer shown to the user.")
    else:
        a("Users can delete interest tags. A deleted tag no longer counts in the score; items carrying it can "
          "still be shown on their other merits.")
    a("")
    a("### 5.3 Minor mode (Art. 18)")
    a("")
    a("In minor mode items rated above the user's age and items flagged as harmful are not shown. "
      "A user of unknown age is treated as the youngest band.")
    if f["curfew_start"] != f["curfew_end"]:
        a(f"- Curfew: no recommendations from {f['curfew_start']} to {f['curfew_end']} local time.")
    else:
        a("- Curfew: none.")
    if f["bands"]:
        a("- Daily time limits:")
        L.extend(_bands_en(f["bands"]))
    else:
        a("- Daily time limits: none.")
    a("")
    a("### 5.4 Elderly users (Art. 19)")
    a("")
    if _elderly_thr(f) < 1.0:
        a(f"For users in elderly mode items with a fraud risk above {_num(_elderly_thr(f))} are not shown.")
    else:
        a("This policy sets no stricter fraud-risk limit for elderly users.")
    a("")
    a("### 5.5 Explanations (Art. 16)")
    a("")
    a("Users can ask why an item was shown: the answer is built from the reason codes of that position "
      "(interest match and which interest tags matched, popularity, editorial placement, featured, diversity, "
      "price correction). For users with personalisation off it mentions no personal data.")
    a("")
    a("### 5.6 Complaints")
    a("")
    if contact:
        a(f"Complaints and appeals: {contact}. Each result carries the policy hash, the reason codes per "
          "shown item and the removal rule per removed item, so a complaint can be traced to the rule applied.")
    else:
        a("Complaints and appeals: [operator to complete: complaint channel and response time]. Each result "
          "carries the policy hash, the reason codes per shown item and the removal rule per removed item, so a "
          "complaint can be traced to the rule applied.")
    a("")
    return "\n".join(L)


def _render_zh(f: dict[str, Any], source: str, contact: Optional[str]) -> str:
    personal = f["w_rel"] != 0 or f["w_tag"] != 0
    L: list[str] = []
    a = L.append
    a("# 推荐算法公示说明")
    a("")
    a(f"本说明由 ranker {package_version()} 根据策略文件 `{source}`（策略哈希 `{f['hash']}`）自动生成。"
      "以下每一项均来自该策略及已文档化的排序流程；每次返回的结果都记录同一策略哈希，可与本说明对应。")
    a("")
    a("## 1. 基本原理")
    a("")
    a(f"对每次信息流请求，服务对一组候选内容进行排序，最多展示其中 {f['k']} 条（页面长度）。排序按四个固定步骤进行：")
    a("")
    a("1. 资格审查：按规则移除不得向该用户展示的内容（见 3.1 节）。")
    a("2. 评分：为其余每条内容计算分数（见 3.2 节）。")
    a("3. 排布：按排布规则逐个填充展示位置（见 3.3 节）。")
    a("4. 输出：每条展示的内容都附有展示原因；每条被移除的内容都附有移除它的规则。")
    a("")
    a("保护性规则从不为填满页面而放宽。若某规则适用但其所需数据缺失，则拒绝该请求，而不是在不执行该规则的情况下提供内容。"
      "内容相同时，候选列表中靠前的内容优先，因此相同输入总是得到相同页面。")
    a("")
    a("## 2. 目的意图")
    a("")
    if personal:
        a(f"为每位用户展示最多 {f['k']} 条符合其兴趣的内容，同时{_goals(f, zh=True)}。"
          "关闭个性化推荐的用户享有同样的保护，排序不使用个性化信号。")
    else:
        a(f"为每位用户展示最多 {f['k']} 条不使用个人兴趣信号排序的内容，同时{_goals(f, zh=True)}。")
    a("")
    a("## 3. 主要运行机制")
    a("")
    a("### 3.1 资格审查（按以下顺序执行）")
    a("")
    a("1. 去重：同一请求中重复出现的内容最多展示一次。")
    a("2. 违法内容：被标记为屏蔽的内容从不展示（第 9 条）。")
    a("3. 合成内容：生成或合成内容仅在作显著标识后展示（第 9 条）。")
    a("4. 年龄分级：最低适用年龄高于用户年龄（已知时）的内容被移除；未成年人模式下年龄未知的用户按最低年龄段处理（第 18 条）。")
    a("5. 有害内容：未成年人模式下从不展示被标记为有害的内容（第 18 条）。")
    if f["max_risk"] < 1.0 or f["elderly_max_risk"] < 1.0:
        line = "6. 欺诈风险："
        line += (f"欺诈风险高于 {_num(f['max_risk'])} 的内容被移除；" if f["max_risk"] < 1.0
                 else "对一般用户不设欺诈风险上限；")
        line += f"对老年用户上限为 {_num(_elderly_thr(f))}（第 19 条）。"
        a(line)
    else:
        a("6. 欺诈风险：本策略未启用（两个阈值均为 1）（第 19 条）。")
    tol = f"{_num(f['abs_tol'])} 加参考价的 {_num(f['rel_tol'])} 倍"
    action = {
        "drop": f"报价与参考价之差超过 {tol} 的内容被移除",
        "clamp": f"报价与参考价之差超过 {tol}时，改为展示参考价",
        "flag": f"报价与参考价之差超过 {tol}时，内容附价格提示展示",
        "off": "本策略未启用",
    }[f["price_action"]]
    a(f"7. 价格一致：{action}（第 21 条）。")
    if f["deletion"] == "suppress":
        a("8. 已删除的兴趣标签：用户删除的标签不再计入分数；对开启个性化推荐的用户，带有该标签的内容不再展示（第 17 条）。")
    else:
        a("8. 已删除的兴趣标签：用户删除的标签不再计入分数；带有该标签的内容仍可展示（第 17 条）。")
    a("9. 已展示内容：已向用户展示过的内容不再重复展示。")
    a("")
    a("未成年人模式下，宵禁时段内以及达到每日时长上限后，整个请求被拒绝（见 5.3 节）。")
    a("")
    a("### 3.2 评分")
    a("")
    a("对开启个性化推荐的用户，内容的分数为")
    a("")
    a(f"    分数 = {_num(f['w_rel'])} × 兴趣相似度 + {_num(f['w_tag'])} × 兴趣标签匹配度 "
      f"+ {_num(f['w_prior'])} × 热度与质量")
    a("")
    a("其中兴趣相似度是用户兴趣向量与内容向量的内积，兴趣标签匹配度是该内容所带各个不同标签上用户权重之和。用户删除的标签不计入。")
    if f["forbidden"]:
        a(f"本策略禁止 {len(f['forbidden'])} 个标签作为任何用户的兴趣信号："
          f"{'、'.join(str(t) for t in f['forbidden'])}（第 10 条）。")
    else:
        a("本策略未禁止任何标签作为兴趣信号（第 10 条）。")
    a("")
    a(f"对关闭个性化推荐的用户：分数 = {_num(f['w_prior'])} × 热度与质量。任何个人数据都不进入分数（第 17 条）。")
    a("")
    a("### 3.3 排布")
    a("")
    if f["pins"]:
        pins = "、".join(f"内容 {item} 位于第 {slot + 1} 位{_pin_beyond_page(slot, f['k'], zh=True)}"
                        for item, slot in f["pins"])
        a(f"- 编辑推荐位（{len(f['pins'])} 个）：{pins}。对该用户不符合条件的置顶内容不予展示，不会因例外而放行。")
    else:
        a("- 编辑推荐位：无。")
    if f["key_count"] > 0:
        line = f"- 重点位置：前 {f['key_count']} 个位置从不展示被标记为有害的内容"
        line += (f"，且在有精选内容时其中至少 {f['featured_min']} 个为精选内容" if f["featured_min"] > 0 else "")
        a(line + "（第 11 条）。")
    else:
        a("- 重点位置：未设置（第 11 条）。")
    method = {
        "none": "- 顺序：其余位置按分数从高到低填充。",
        "mmr": f"- 多样性（第 12 条）：按最大边际相关性填充位置，分数权重 {_num(f['lam'])}，"
               f"与已展示内容的差异性权重 {_num(round(1 - f['lam'], 12))}。",
        "dpp": f"- 多样性（第 12 条）：按行列式点过程在分数与相似度之间权衡填充位置（相关性指数 {_num(f['alpha'])}）；"
               "没有差异化内容时，其余位置按分数填充。",
    }[f["method"]]
    a(method)
    if f["pool"] > 0:
        a(f"- 仅评分最高的 {f['pool']} 条合格内容参与开放位置的选择。")
    scatter = []
    if f["cat_window"] > 0:
        scatter.append(f"任意连续 {f['cat_window']} 个位置中同一类别最多 {f['cat_max']} 条")
    if f["auth_window"] > 0:
        scatter.append(f"任意连续 {f['auth_window']} 个位置中同一作者最多 {f['auth_max']} 条")
    if f["share_cap"] is not None:
        scatter.append(f"同一类别最多占页面的 {_num(f['share'])}（{f['k']} 条中最多 {f['share_cap']} 条）")
    if scatter:
        a("- 打散（第 12 条）：" + "；".join(scatter) + "。这些限制跨页面连续计算；某位置没有内容能满足时仅对该位置放宽，并在该位置记录。")
    else:
        a("- 打散（第 12 条）：未设置类别或作者限制。")
    a("")
    a("### 3.4 原因与记录")
    a("")
    a("每条展示的内容都附有原因代码（兴趣匹配、兴趣标签匹配、热度、未个性化、编辑推荐、精选、多样性、限制放宽、价格更正、价格提示）。"
      "每条被移除的内容都附有移除它的规则。每个结果都记录策略哈希、产生它的软件以及用户模式（关闭个性化、未成年人模式、老年模式）；"
      "审计记录不含兴趣数据（第 16 条、第 28 条）。")
    a("")
    a("## 4. 使用的信号")
    a("")
    a("| 信号 | 用途 | 本策略 |")
    a("| --- | --- | --- |")
    use = lambda on: "使用" if on else "不使用"  # noqa: E731
    a(f"| 用户兴趣向量与内容向量 | 兴趣相似度 | {use(f['w_rel'] != 0)}（权重 {_num(f['w_rel'])}），仅限开启个性化 |")
    a(f"| 用户兴趣标签及权重、内容标签 | 兴趣标签匹配度 | {use(f['w_tag'] != 0)}（权重 {_num(f['w_tag'])}），仅限开启个性化 |")
    a(f"| 内容热度与质量（非个人数据） | 分数 | {use(f['w_prior'] != 0)}（权重 {_num(f['w_prior'])}） |")
    a("| 用户删除的标签 | 从分数中剔除" + ("、移除带有这些标签的内容" if f["deletion"] == "suppress" else "") + " | 使用 |")
    a("| 内容标记（屏蔽、有害、合成、已标识、精选） | 资格审查、重点位置 | 使用 |")
    a("| 内容年龄分级、用户年龄及未成年人模式 | 年龄限制、未成年人模式 | 使用 |")
    a("| 当地时间及当日使用时长 | 宵禁与每日时长上限，仅限未成年人模式 | 使用 |")
    a(f"| 内容欺诈风险、用户老年模式 | 欺诈风险上限 | {use(f['max_risk'] < 1.0 or f['elderly_max_risk'] < 1.0)} |")
    a(f"| 报价与参考价 | 价格一致 | {use(f['price_action'] != 'off')} |")
    a(f"| 内容类别与作者、此前展示的内容 | 打散、多样性 | {use(bool(scatter) or f['method'] != 'none')} |")
    a("| 已向用户展示的内容 | 不重复展示 | 使用 |")
    a("")
    a("排序不使用任何其他信号。")
    a("")
    a("## 5. 用户权利")
    a("")
    a("### 5.1 关闭个性化推荐（第 17 条）")
    a("")
    a("用户可以关闭个性化推荐。此后排序不使用任何个人数据：不使用兴趣向量、兴趣标签或已删除标签；"
      f"分数仅为热度与质量（权重 {_num(f['w_prior'])}）。3.1 节和 3.3 节的全部保护仍然适用。")
    a("")
    a("### 5.2 删除兴趣标签（第 17 条）")
    a("")
    if f["deletion"] == "suppress":
        a("用户可以删除兴趣标签。已删除的标签不再计入分数；在开启个性化推荐期间，带有该标签的内容也不再向该用户展示。")
    else:
        a("用户可以删除兴趣标签。已删除的标签不再计入分数；带有该标签的内容仍可因其他因素展示。")
    a("")
    a("### 5.3 未成年人模式（第 18 条）")
    a("")
    a("未成年人模式下不展示分级高于用户年龄的内容和被标记为有害的内容。年龄未知的用户按最低年龄段处理。")
    if f["curfew_start"] != f["curfew_end"]:
        a(f"- 宵禁：当地时间 {f['curfew_start']} 至 {f['curfew_end']} 不提供推荐。")
    else:
        a("- 宵禁：无。")
    if f["bands"]:
        a("- 每日时长上限：")
        L.extend(_bands_zh(f["bands"]))
    else:
        a("- 每日时长上限：无。")
    a("")
    a("### 5.4 老年用户（第 19 条）")
    a("")
    if _elderly_thr(f) < 1.0:
        a(f"对老年模式用户，不展示欺诈风险高于 {_num(_elderly_thr(f))} 的内容。")
    else:
        a("本策略未对老年用户设置更严格的欺诈风险上限。")
    a("")
    a("### 5.5 推荐解释（第 16 条）")
    a("")
    a("用户可以询问某条内容为何被展示：回答依据该位置的原因代码生成（兴趣匹配及匹配了哪些兴趣标签、热度、编辑推荐、精选、多样性、价格更正）。"
      "对关闭个性化推荐的用户，回答不提及任何个人数据。")
    a("")
    a("### 5.6 投诉")
    a("")
    if contact:
        a(f"投诉与申诉：{contact}。每个结果都附有策略哈希、每条展示内容的原因代码和每条被移除内容的移除规则，投诉可追溯到所适用的规则。")
    else:
        a("投诉与申诉：[由运营方填写：投诉渠道及答复时限]。每个结果都附有策略哈希、每条展示内容的原因代码和每条被移除内容的移除规则，"
          "投诉可追溯到所适用的规则。")
    a("")
    return "\n".join(L)


_RENDERERS: dict[str, Callable[[dict[str, Any], str, Optional[str]], str]] = {"en": _render_en, "zh": _render_zh}


def describe(policy: Any, lang: str = "en", *, source: str = "policy", contact: Optional[str] = None) -> str:
    """The public description of the algorithm under ``policy`` as Markdown (``lang`` "en" or "zh").

    ``source`` names the policy in the text (e.g. its file name); ``contact`` is the complaint channel.
    """
    if lang not in _RENDERERS:
        raise ValueError(f"lang: expected one of {LANGS}, got {lang!r}")
    return _RENDERERS[lang](_facts(policy), source, contact)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("policy", metavar="POLICY.toml", help="the policy file (TOML, the shape of DESIGN.md)")
    parser.add_argument("--lang", choices=LANGS, default="en", help="language of the description (default en)")
    parser.add_argument("--contact", default=None,
                        help="the complaint channel to state (otherwise the section asks the operator to fill it in)")
    parser.add_argument("--output", "-o", default=None, metavar="FILE", help="write the Markdown here instead of stdout")


def run(args: argparse.Namespace) -> int:
    from .policy import Policy

    policy = Policy.from_toml(args.policy)
    text = describe(policy, args.lang, source=Path(args.policy).name, contact=args.contact)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output} ({args.lang}, policy {policy.hash[:12]})", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


__all__ = ["LANGS", "add_arguments", "describe", "run"]
