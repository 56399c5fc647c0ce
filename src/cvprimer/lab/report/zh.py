"""The Chinese page's glossary: units, table headers and the common terms of figure labels, in one place.

An experiment names its figures with identifiers (``val_acc_dropout``); the report shows a label instead. The label
of a figure comes, in this order, from the record (``Figure(..., label=...)``), else from the experiment's
``labels`` table, whose keys are figure names or patterns with ``{slot}`` parts::

    labels = {"val_acc_{method}": {"en": "validation accuracy, {method}", "zh": "验证准确率（{method}）"}}
    terms = {"dropout": {"en": "dropout", "zh": "Dropout"}}

A slot's value is translated through the experiment's ``terms``, then through :data:`TERMS` below; a number (``16``,
``0.08``) stands for itself. A value found nowhere gives no label (:func:`missing_labels` lists such figures, so a test
catches them). Units and plain-string table headers are translated through :data:`UNITS` and :data:`HEADERS`; a unit or
header absent from them is shown as written (``tests/lab/test_report_zh.py`` fails on one in English words).
:data:`PLOT_TEXT` holds plot words many experiments share (``cvprimer.lab.plots`` swaps them in on the Chinese copy
of a plot).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

Text = dict[str, str]

# a Figure's unit as the experiments write it -> as the Chinese page shows it
UNITS: dict[str, str] = {
    "": "", "fraction": "比例", "%": "%", "accuracy": "准确率", "px": "像素", "relative": "相对误差",
    "points": "百分点", "x": "倍", "MACs": "MACs", "log10": "log10", "parameters": "参数量", "params": "参数量",
    "step ratio": "步长比", "ns": "纳秒", "lr": "学习率", "fraction of [-6, 6]": "占 [-6, 6] 的比例", "layers": "层",
    "flag": "是/否（1/0）", "CPU s": "CPU 秒", "E||g_B - g||^2": "E||g_B - g||²", "absolute": "绝对误差",
    "epochs": "轮", "last/first std": "末层/首层标准差", "first/last std": "首层/末层标准差", "bool": "是/否（1/0）",
    "distance": "距离", "ratio": "比值", "nats": "奈特", "steps": "步", "train - val accuracy": "训练 - 验证准确率",
    "loss rise": "损失上升", "dB": "分贝", "abs": "绝对误差", "channels": "通道", "x first loss": "× 初始损失",
    "values": "个数值", "skewness": "偏度", "ms": "毫秒", "relative L2": "相对 L2 误差", "holds": "成立（1/0）",
    "tensors": "个张量", "||dL/dz||": "||dL/dz||", "cos(g_B, g)": "cos(g_B, g)", "KS distance": "KS 距离",
    "std": "标准差", "samples": "个样本", "cross-entropy": "交叉熵", "s": "秒", "share": "占比",
    "logit std": "logit 标准差", "first / last layer": "首层 / 末层", "nodes": "个节点", "FLOPs/byte": "FLOPs/字节",
    "GMACs": "GMACs", "concat/add": "拼接/相加", "examples": "个样本",
    "median grad std / Kaiming's": "梯度标准差中位数 / Kaiming 值", "mean |r|": "平均 |r|", "bytes": "字节",
    "relative per step": "每步相对变化", "3x3/5x5": "3x3/5x5", "MMD^2": "MMD²", "MSE": "均方误差", "GMAC/s": "GMAC/秒",
    "|mean|, |std - 1|": "|均值|、|标准差 - 1|", "|min|, |max - 1|": "|最小值|、|最大值 - 1|",
    "|change| of skewness/kurtosis": "偏度/峰度的 |变化|", "fraction of [0, 1]": "占 [0, 1] 的比例",
    "fraction of range": "占取值范围的比例", "FLOPs/MAC": "FLOPs/MAC", "functions": "个函数", "updates": "次更新",
    "log-log slope": "双对数斜率", "images per class": "每类图像数", "max/min": "最大/最小", "augmentations": "种增强",
    "count": "个", "findings": "条发现", "end/start": "末/初", "ink/background": "笔画/背景", "tokens": "个词元",
    "standard/depthwise": "标准/深度", "ch": "通道", "GFLOP/s": "GFLOP/秒", "GB/s": "GB/秒", "seconds": "秒",
    "bits": "比特", "pixels": "像素", "points of accuracy": "个百分点", "images": "张图像", "units": "个单元",
    "degrees": "度", "times": "倍", "factor": "倍数",
}

# a plain (English) table header -> its Chinese
HEADERS: dict[str, str] = {
    "features": "特征", "input": "输入", "cond(cov)": "cond(协方差)", "best lr": "最佳学习率",
    "val acc, halfway": "验证准确率（训练一半时）", "final val acc": "最终验证准确率", "feature": "特征", "n": "n",
    "mean": "均值", "std": "标准差", "skew": "偏度", "ex. kurtosis": "超额峰度", "mean (z)": "均值（z 分数）",
    "std (z)": "标准差（z 分数）", "skew (z)": "偏度（z 分数）", "ex. kurtosis (z)": "超额峰度（z 分数）",
    "KS to N(0,1)": "与 N(0,1) 的 KS 距离", "sqrt(n) KS": "sqrt(n)·KS", "map": "变换", "skewness after": "变换后偏度",
    "layer": "层", "seed's field": "原文的感受野", "analyzer field": "分析器算出的感受野",
    "autograd field": "自动求导测得的感受野", "pixels read": "读取的像素", "fill": "覆盖率", "output size": "输出尺寸",
    "layers": "层数", "run": "运行", "train acc": "训练准确率", "val acc": "验证准确率", "gap": "差距",
    "diagnosis": "诊断", "|W1|_2": "|W1|₂", "|w|<1e-3": "|w|<1e-3 的比例", "optimizer": "优化器",
    "seed's family": "原文的归类", "memory": "记忆", "scaling": "缩放", "family (usual)": "归类（通常说法）",
    "family": "归类", "rosenbrock lr": "Rosenbrock 学习率", "rosenbrock distance": "Rosenbrock 距离",
    "beale lr": "Beale 学习率", "beale distance": "Beale 距离", "saddle lr": "鞍点学习率",
    "saddle distance": "鞍点距离", "CNN lr": "CNN 学习率", "CNN val acc": "CNN 验证准确率",
    "formula (kernels, strides)": "公式（卷积核、步幅）", "autograd, no padding": "自动求导，无填充",
    "analyzer, same padding": "分析器，same 填充", "autograd, same padding": "自动求导，same 填充", "padding": "填充",
    "output": "输出", "field (centre unit)": "感受野（中心单元）",
    "unit (0,0) rows, theory": "单元 (0,0) 的行范围（理论）",
    "unit (0,0) rows, autograd": "单元 (0,0) 的行范围（自动求导）", "corner field on image": "角落感受野在图像内的部分",
    "batch": "批大小", "weight decay": "权重衰减", "lr": "学习率", "hidden layers": "隐藏层数", "width": "宽度",
    "parameters": "参数量", "train loss": "训练损失", "s per epoch": "每轮秒数", "output channels": "输出通道数",
    "ps per MAC": "每次 MAC 皮秒数", "method": "方法", "PSNR (dB)": "PSNR（分贝）", "SSIM": "SSIM", "operation": "运算",
    "FLOPs": "FLOPs", "upsampler": "上采样方法", "IoU": "IoU", "downsampling": "下采样方式", "params": "参数量",
    "MACs": "MACs", "output RF (px)": "输出感受野（像素）", "train step (ms, batch 64)": "训练一步（毫秒，批大小 64）",
    "2x downsampling of the digit": "数字图像的 2 倍下采样",
    "relative error of the best linear decoder": "最佳线性解码器的相对误差", "seed formula": "原文公式",
    "weight tensor size": "权重张量大小", "all parameters (with bias)": "全部参数（含偏置）", "model": "模型",
    "covered layers": "覆盖的层", "kernel-weight share": "卷积核权重占比",
    "formula summed over all layers / parameters": "各层公式之和 / 实际参数量", "buffer values": "缓冲区数值个数",
    "analyzer MACs": "分析器算出的 MACs", "time (ms)": "时间（毫秒）", "kind": "类型",
    "output (C x H x W)": "输出（C x H x W）", "receptive field": "感受野", "params / standard": "参数量 / 标准卷积",
    "MACs / standard": "MACs / 标准卷积", "params std": "标准卷积参数量", "params sep": "可分离卷积参数量",
    "MACs std": "标准卷积 MACs", "MACs sep": "可分离卷积 MACs", "seed formula sep": "原文公式（可分离）",
    "MAC ratio": "MAC 比", "1/C_out + 1/k^2": "1/输出通道数 + 1/k²", "net": "网络", "validation accuracy": "验证准确率",
    "merge": "合并方式", "result or engine error": "结果或引擎报错", "next-layer params": "下一层参数量",
    "next-layer MACs": "下一层 MACs", "network": "网络", "conv/linear layers": "卷积/全连接层",
    "hidden ones without activation after": "其后没有激活的隐藏层", "what they meet": "它们接入的运算",
    "activation": "激活函数", "|f'| < 0.01 on [-6, 6]": "[-6, 6] 上 |f'| < 0.01 的比例",
    "mean f(x), x~N(0,1)": "f(x) 的均值，x~N(0,1)", "std f(x)": "f(x) 的标准差", "ns per element": "每元素纳秒",
    "block (56x56x256)": "模块（56x56x256）", "examples": "样本数", "epochs": "轮数", "updates": "更新次数",
    "train CPU seconds": "训练 CPU 秒", "init": "初始化", "parameters that moved": "发生变化的参数",
    "rank of W1 / W2 / W3": "W1 / W2 / W3 的秩", "act std layer 1": "第 1 层激活标准差",
    "act std layer 19": "第 19 层激活标准差", "ratio": "比值", "grad std W1": "W1 梯度标准差",
    "grad std W20": "W20 梯度标准差", "grad ratio W1/W20": "梯度比 W1/W20", "stack": "堆叠",
    "field (px)": "感受野（像素）", "plain stack": "普通堆叠", "its field (px)": "其感受野（像素）",
    "gain (px)": "增加（像素）", "named by the seed": "原文提到", "configuration": "配置", "depth": "深度",
    "log10 first/last": "log10（首层/末层）", "log10 max norm": "log10 最大范数",
    "backward gain per layer": "每层反向增益", "val acc (short training)": "验证准确率（短训练）",
    "diagnose findings": "诊断发现", "expected": "预期", "diagnosed": "诊断结果", "training images": "训练图像数",
    "small CNN (learned features)": "小型 CNN（学习到的特征）", "HOG + linear": "HOG + 线性分类器",
    "raw pixels + linear": "原始像素 + 线性分类器", "ns per element (forward + backward)": "每元素纳秒（前向 + 反向）",
    "||dL/dW|| first layer": "首层 ||dL/dW||", "||dL/dW|| last layer": "末层 ||dL/dW||",
    "exact-zero activations": "恰为零的激活", "dead units": "死亡单元", "comparison": "比较", "value": "数值",
    "max relative difference": "最大相对差", "penalty": "惩罚项", "exact zeros": "恰为零的权重",
    "|w| < 1e-3": "|w| < 1e-3 的比例", "L1 norm": "L1 范数", "L2 norm": "L2 范数", "loss": "损失",
    "||dL/dz|| at margin 0": "间隔为 0 时的 ||dL/dz||", "||dL/dz|| at margin 12": "间隔为 12 时的 ||dL/dz||",
    "slope": "斜率", "intercept": "截距", "error": "误差", "loss gap": "损失差",
    "mean |r| hidden 2": "第 2 隐藏层平均 |r|", "val acc, half the units": "验证准确率（一半单元）", "rule": "规则",
    "passes": "通过", "val loss": "验证损失", "lr rule": "学习率规则", "CPU s (fit + val)": "CPU 秒（训练 + 验证）",
    "grad noise": "梯度噪声", "sharpness": "尖锐度", "max |x|": "最大 |x|", "op nodes recorded": "记录的运算节点数",
    "combined as": "合并方式", "remedy": "补救方法", "minority recall (%)": "少数类召回率（%）",
    "macro-F1 (%)": "宏平均 F1（%）", "balanced accuracy (%)": "平衡准确率（%）", "conv biases": "卷积偏置",
    "conv1 zeros, step 1 (%)": "conv1 零输入，第 1 步（%）", "conv1 zeros, later (%)": "conv1 零输入，之后（%）",
    "conv2 zeros, step 1 (%)": "conv2 零输入，第 1 步（%）", "conv2 zeros, later (%)": "conv2 零输入，之后（%）",
    "val acc slope 0 (%)": "斜率 0 时的验证准确率（%）", "val acc slope 0.5 (%)": "斜率 0.5 时的验证准确率（%）",
    "val acc slope 1 (%)": "斜率 1 时的验证准确率（%）", "max |dW| vs slope 0": "与斜率 0 相比的最大 |dW|",
    "setting": "设置", "sum ratio 28x28": "总和之比（28x28）", "sum ratio 7x7": "总和之比（7x7）",
    "inputs with no gradient (28x28, %)": "没有梯度的输入（28x28，%）",
    "max/min received (28x28)": "收到梯度的最大/最小值（28x28）", "validation accuracy (%)": "验证准确率（%）",
    "forward": "前向", "local gradient": "局部梯度", "passed down": "向下传递", "tensor": "张量", "shape": "形状",
    "max |grad|": "最大 |梯度|", "rel. err vs autograd": "相对自动求导的误差",
    "rel. err vs central differences": "相对中心差分的误差", "kernel": "卷积核", "vs correlate2d": "与 correlate2d 比",
    "vs convolve2d(flipped k)": "与 convolve2d（翻转的 k）比", "vs convolve2d(k)": "与 convolve2d(k) 比",
    "year": "年份", "key idea": "核心思想", "weighted layers": "带权重的层", "receptive field (px)": "感受野（像素）",
    "images/s (forward)": "每秒图像数（前向）", "epsilon": "ε", "accuracy": "准确率", "logits": "logit 值",
    "max |autograd - (p - y)|": "最大 |自动求导 - (p - y)|", "technique": "技术",
    "object moved (1 - mask IoU)": "物体移动量（1 - 掩码 IoU）", "mean |pixel change|": "平均 |像素变化|",
    "outputs depending on other images": "依赖其他图像的输出", "augmentation": "数据增强",
    "val acc (%)": "验证准确率（%）", "change (points)": "变化（百分点）", "warm-up": "预热",
    "mean val acc": "平均验证准确率", "fail rate": "失败率", "median early spike": "早期尖峰中位数",
    "block (64 ch, 32x32)": "模块（64 通道，32x32）", "conv params": "卷积参数量", "RF (analyzer)": "感受野（分析器）",
    "RF (autograd)": "感受野（自动求导）", "ReLUs": "ReLU 个数", "g": "g", "speedup vs g=1": "相对 g=1 的加速比",
    "in the seed's list": "在原文列表中", "a remedy names the cause": "补救方法指出原因",
    "epochs to 85% val acc": "验证准确率达到 85% 所需轮数", "steps to loss 1.5": "损失降到 1.5 所需步数",
    "final val acc (eval mode)": "最终验证准确率（评估模式）", "normalization statistics": "归一化统计量",
    "val accuracy (%)": "验证准确率（%）", "tokens N": "词元数 N", "self-attention MACs": "自注意力 MACs",
    "3x3 conv MACs": "3x3 卷积 MACs", "train acc (%)": "训练准确率（%）", "gap (points)": "差距（百分点）",
    "0 px (%)": "0 像素（%）", "2 px (%)": "2 像素（%）", "4 px (%)": "4 像素（%）", "6 px (%)": "6 像素（%）",
    "8 px (%)": "8 像素（%）", "weight": "权重", "theta_0": "θ₀", "dL/dtheta (hand)": "dL/dθ（手算）",
    "SGD theta_1 (hand)": "SGD θ₁（手算）", "SGD theta_1 (optim.SGD)": "SGD θ₁（用 optim.SGD 算）",
    "momentum buffer after step 2": "第 2 步后的动量缓冲", "Adam step 1 update": "Adam 第 1 步更新量", "conv": "卷积",
    "bytes moved": "搬运字节数", "FLOPs/byte": "FLOPs/字节", "bound": "瓶颈", "GMAC/s": "GMAC/秒",
}

# slot values shared by many experiments' label patterns (an experiment's own ``terms`` come first)
TERMS: dict[str, Text] = {
    "relu": {"en": "ReLU", "zh": "ReLU"}, "sigmoid": {"en": "sigmoid", "zh": "Sigmoid"},
    "tanh": {"en": "tanh", "zh": "Tanh"}, "leaky_relu": {"en": "leaky ReLU", "zh": "Leaky ReLU"},
    "none": {"en": "none", "zh": "无"}, "plain": {"en": "plain", "zh": "普通"},
    "baseline": {"en": "baseline", "zh": "基线"}, "dropout": {"en": "dropout", "zh": "Dropout"},
    "bn": {"en": "batch norm", "zh": "批归一化"}, "batch_norm": {"en": "batch norm", "zh": "批归一化"},
    "sgd": {"en": "SGD", "zh": "SGD"}, "adam": {"en": "Adam", "zh": "Adam"},
    "standard": {"en": "standard", "zh": "标准卷积"}, "depthwise": {"en": "depthwise", "zh": "深度卷积"},
    "mlp": {"en": "MLP", "zh": "MLP"}, "cnn": {"en": "CNN", "zh": "CNN"}, "l1": {"en": "L1", "zh": "L1"},
    "l2": {"en": "L2", "zh": "L2"}, "max_pool": {"en": "max pooling", "zh": "最大池化"},
    "avg_pool": {"en": "average pooling", "zh": "平均池化"}, "resnet18": {"en": "ResNet-18", "zh": "ResNet-18"},
    "resnet50": {"en": "ResNet-50", "zh": "ResNet-50"}, "mobilenet_v2": {"en": "MobileNetV2", "zh": "MobileNetV2"},
    "mobilenet_v1": {"en": "MobileNetV1", "zh": "MobileNetV1"}, "lenet5": {"en": "LeNet-5", "zh": "LeNet-5"},
    "constant": {"en": "constant", "zh": "恒定"}, "scaled": {"en": "scaled", "zh": "按比例缩放"},
    "warm": {"en": "with warm-up", "zh": "预热"}, "deep": {"en": "deep", "zh": "深层"},
    "shallow": {"en": "shallow", "zh": "浅层"},
}

_NUMBER = re.compile(r"[0-9][0-9.x]*")
_SLOT = re.compile(r"\{(\w+)\}")


def _t(d: Any, lang: str) -> str:
    if isinstance(d, Mapping):
        return str(d.get(lang) or d.get("en") or "")
    return "" if d is None else str(d)


def unit_text(unit: str, lang: str) -> str:
    """A unit as shown on the ``lang`` page: translated through :data:`UNITS` on the Chinese page, else as given."""
    if lang != "zh":
        return unit
    return UNITS.get(unit, unit)


def header_text(col: Any, lang: str) -> str:
    """A table header: a bilingual ``{en, zh}`` dict gives its ``lang`` entry; a plain string is translated through
    :data:`HEADERS` on the Chinese page."""
    if isinstance(col, Mapping):
        return _t(col, lang)
    col = "" if col is None else str(col)
    return HEADERS.get(col, col) if lang == "zh" else col


def cell_text(exp: Any, cell: str, lang: str) -> str:
    """A table's text cell as shown on the ``lang`` page: on the Chinese page a name the experiment's plots already
    translate (its ``tr_table``), a common plot word or a known header gets its Chinese; anything else stays."""
    if lang != "zh":
        return cell
    from cvprimer.lab.plots import module_table

    own = module_table(exp.__module__) if exp is not None else {}
    return own.get(cell) or PLOT_TEXT.get(cell) or HEADERS.get(cell) or cell


def _compile(pattern: str, values: Iterable[str]) -> re.Pattern[str]:
    """``pattern`` as a regular expression whose ``{slot}`` parts match only a known value or a number (so a name
    with several slots splits where every part has a translation)."""
    alts = "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))
    slot = f"(?:{alts}|{_NUMBER.pattern})" if alts else _NUMBER.pattern
    out, pos, seen = [], 0, set()
    for m in _SLOT.finditer(pattern):
        out.append(re.escape(pattern[pos:m.start()]))
        name = m.group(1)
        out.append(f"(?P={name})" if name in seen else f"(?P<{name}>{slot})")
        seen.add(name)
        pos = m.end()
    out.append(re.escape(pattern[pos:]))
    return re.compile("".join(out))


def _term(value: str, terms: Mapping[str, Text]) -> Text:
    for table in (terms, TERMS):
        if value in table:
            return dict(table[value])
    return {"en": value, "zh": value}  # a number: _compile lets nothing else through


def label_from(labels: Mapping[str, Text], terms: Mapping[str, Text], name: str) -> Text | None:
    """The bilingual label of figure ``name`` from a ``labels`` table (exact key first, then the patterns in their
    declared order; every ``{slot}`` value translated through ``terms`` / :data:`TERMS`), None when none fits."""
    if name in labels:
        return dict(labels[name])
    values = {*terms, *TERMS}
    for pattern, text in labels.items():
        if "{" not in pattern:
            continue
        m = _compile(pattern, values).fullmatch(name)
        if m is None:
            continue
        slots = {k: _term(v, terms) for k, v in m.groupdict().items()}
        return {lang: str(text[lang]).format(**{k: v[lang] for k, v in slots.items()})
                for lang in ("en", "zh")}
    return None


def figure_label(exp: Any, name: str, figure: Mapping[str, Any] | None = None) -> Text | None:
    """The label of figure ``name`` of experiment class ``exp`` (None: no class): the record's own label if it has
    a Chinese one, else the class's ``labels`` table."""
    own = (figure or {}).get("label")
    if isinstance(own, Mapping) and own.get("zh"):
        return {"en": str(own.get("en") or name), "zh": str(own["zh"])}
    if exp is None:
        return dict(own) if isinstance(own, Mapping) else None
    return label_from(getattr(exp, "labels", {}) or {}, getattr(exp, "terms", {}) or {}, name)


def missing_labels(exp: Any, figures: Mapping[str, Any] | Iterable[str]) -> list[str]:
    """The figures (a record's ``{name: figure}`` or bare names) that get no Chinese label from their own label or
    ``exp``'s tables (what a test requires empty)."""
    figs = figures if isinstance(figures, Mapping) else dict.fromkeys(figures)
    return [n for n, f in figs.items() if not (figure_label(exp, n, f if isinstance(f, Mapping) else None)
                                                or {}).get("zh")]


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds at least one CJK ideograph."""
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


# plot text that many experiments share, by exact string (an experiment's own tr() declarations come first)
PLOT_TEXT: dict[str, str] = {
    "validation accuracy": "验证准确率", "epoch": "轮次", "step": "步", "training loss": "训练损失",
    "validation accuracy (%)": "验证准确率（%）", "accuracy": "准确率", "learning rate": "学习率", "value": "数值",
    "validation": "验证", "std": "标准差", "original": "原图", "measured time": "实测时间", "hidden layer": "隐藏层",
    "count (log)": "计数（对数）", "batch size": "批大小", "training images (log scale)": "训练图像数（对数刻度）",
    "train": "训练", "loss": "损失", "parameters": "参数量", "weight value": "权重值", "weight decay": "权重衰减",
    "warm-up": "预热", "no warm-up": "不预热", "training step": "训练步", "training loss (log)": "训练损失（对数）",
    "smoothed": "平滑后", "shifted": "平移后", "saddle": "鞍点", "formula": "公式", "final accuracy": "最终准确率",
    "final training loss": "最终训练损失", "epoch (log)": "轮次（对数）", "discriminator": "判别器", "data": "数据",
    "channel": "通道", "chance": "随机猜测", "digit class": "数字类别", "loss per step": "每步损失",
    "max relative error": "最大相对误差", "ns per element": "每元素纳秒", "normal quantile": "正态分位数",
    "z-scored quantile": "z 分数分位数", "z-scored": "z 分数标准化", "outliers": "离群值", "one outlier": "一个离群值",
    "linear layer": "全连接层", "input row": "输入行", "input column": "输入列", "input group": "输入组",
    "output group": "输出组", "small CNN": "小型 CNN", "validation IoU": "验证 IoU", "feature map (channel 0)":
    "特征图（通道 0）", "hand vs autograd": "手算与自动求导", "hand vs central differences": "手算与中心差分",
    "learning-rate range test": "学习率范围测试", "distance to nearest minimum": "到最近极小值的距离",
    "layer (input side first)": "层（从输入侧起）", "layer (1 = input side)": "层（1 = 输入侧）",
    "depth (linear layers)": "深度（全连接层数）", "depth (conv layers)": "深度（卷积层数）",
    "mini-batch gradient noise": "小批量梯度噪声", "gradient noise and sharpness": "梯度噪声与尖锐度",
    "fraction of non-finite losses": "非有限损失的比例", "units in the hidden layer": "隐藏层单元数",
    "relative to the standard conv": "相对标准卷积", "parameters / standard": "参数量 / 标准卷积",
    "raw pixels + linear": "原始像素 + 线性分类器", "max pool": "最大池化", "avg pool": "平均池化",
    "baseline validation": "基线验证准确率", "batch size B": "批大小 B", "spatial gate": "空间门控",
    "unconstrained minimum": "无约束极小值", "generator (non-saturating)": "生成器（非饱和）",
    "seconds per full gradient": "每次全量梯度的秒数", "progress per pass over the data": "每遍数据的进展",
    "receptive field side (input pixels)": "感受野边长（输入像素）", "relative to g = 1": "相对 g = 1",
    "shift of the test digits (pixels)": "测试数字的平移（像素）",
    "images / second (our engine)": "每秒图像数（我们的引擎）",
    "ns per element (forward, CPU)": "每元素纳秒（前向，CPU）", "ps per multiply-accumulate": "每次乘加皮秒数",
    "weight scaling (1 pass)": "权重缩放（1 次前向）",
    "relative change of its variance per step": "其方差的每步相对变化",
}
