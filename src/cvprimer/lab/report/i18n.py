"""The report's own words (headings, buttons, labels) in both languages."""

from __future__ import annotations

UI: dict[str, dict[str, str]] = {
    "en": {
        "lang_name": "English", "other_lang": "中文版", "doc_title": "cvprimer lab: 54 questions, measured",
        "subtitle": "Every claim of the interview canon tested on our own NumPy engine with real data.",
        "generated": "Generated", "mode": "mode", "seeds": "seeds", "questions": "Questions",
        "errata": "Errata: claims the lab refuted or qualified", "errata_none": "No claim refuted or qualified yet.",
        "filter_verdict": "Verdict", "filter_topic": "Topic", "search": "Search", "search_ph": "word or number",
        "all": "all", "study": "Study mode", "study_help": "Verdicts are hidden: answer first, then reveal "
        "(space reveals, ← → move between questions).", "reveal": "Reveal the answer", "studied": "studied",
        "question": "Question", "seed_claim": "What the seed says", "claim": "Claim tested", "method": "What we ran",
        "command": "Reproduce", "figures": "Measured figures", "verdict": "Verdict", "evidence": "Evidence",
        "seed_agreement": "seeds agreeing", "pending": "Not answered yet: an experiment for this question is pending.",
        "not_run": "Not run in this folder yet:", "error": "This experiment failed:", "figure": "figure",
        "value": "value", "unit": "unit", "spread": "spread", "shown": "shown", "seconds": "s",
        "confirmed": "confirmed", "refuted": "refuted", "nuanced": "nuanced", "page": "page",
        "pending_badge": "pending", "notrun_badge": "not run", "error_badge": "error",
        "thresholds": "Thresholds (declared before the run)", "top": "top",
        "summary": "Summary", "no_match": "No question matches the filter.", "notes": "Notes",
        "unsettled": "unsettled", "per_seed": "per seed",
        "beyond": "Beyond the seed's claim (our own addition: never part of the verdict or the errata)",
        "provisional": "provisional: quick mode is too small to settle this claim; run it with --full",
        "stale": "stale: computed by other code or package versions than the installed ones",
        "plot_seed": "plot of seed", "table_seed": "table of seed", "notes_seed": "of seed",
        "mean_note": "mean ± spread over seeds",
    },
    "zh": {
        "lang_name": "中文", "other_lang": "English", "doc_title": "cvprimer 实验室：54 道题，逐一实测",
        "subtitle": "面试经典中的每一条说法，都在我们自己的 NumPy 引擎上用真实数据检验。",
        "generated": "生成时间", "mode": "模式", "seeds": "随机种子", "questions": "题目",
        "errata": "勘误：被实验推翻或修正的说法", "errata_none": "目前没有被推翻或修正的说法。",
        "filter_verdict": "结论", "filter_topic": "主题", "search": "搜索", "search_ph": "关键词或题号",
        "all": "全部", "study": "学习模式",
        "study_help": "结论已隐藏：先自己作答，再揭晓（空格键揭晓，← → 切换题目）。",
        "reveal": "揭晓答案", "studied": "已学习",
        "question": "题目", "seed_claim": "原文的说法", "claim": "检验的说法", "method": "我们做了什么",
        "command": "复现命令", "figures": "测量结果", "verdict": "结论", "evidence": "依据",
        "seed_agreement": "个种子结论一致", "pending": "尚未解答：本题的实验仍待完成。",
        "not_run": "此目录中尚未运行：", "error": "该实验运行失败：", "figure": "指标",
        "value": "数值", "unit": "单位", "spread": "波动", "shown": "显示", "seconds": "秒",
        "confirmed": "证实", "refuted": "推翻", "nuanced": "部分成立", "page": "讲解",
        "pending_badge": "待完成", "notrun_badge": "未运行", "error_badge": "出错",
        "thresholds": "判定阈值（运行前已声明）", "top": "顶部",
        "summary": "概览", "no_match": "没有符合筛选条件的题目。", "notes": "说明",
        "unsettled": "未定", "per_seed": "各随机种子",
        "beyond": "超出原文的部分（我们自己的补充：不参与结论，也不进入勘误）",
        "provisional": "暂定：快速模式的规模不足以判定这条说法，请用 --full 运行",
        "stale": "已过期：由与当前安装不同的代码或软件包版本算出",
        "plot_seed": "图来自随机种子", "table_seed": "表来自随机种子", "notes_seed": "来自随机种子",
        "mean_note": "各随机种子的均值 ± 波动",
    },
}

TOPIC_NAMES: dict[str, dict[str, str]] = {}  # filled from cvprimer.lab.questions.TOPICS at render time
