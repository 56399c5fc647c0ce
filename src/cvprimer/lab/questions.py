"""The seed document's 54 computer-vision interview questions, restated in our own words in English and Chinese.

Each :class:`Question` carries its number, a topic key from :data:`TOPICS`, the question itself and a one- or
two-sentence summary of what the seed's answer claims (the claim the lab's experiments then test). Nothing here
is copied from the seed; the texts are written fresh.
"""

from dataclasses import dataclass

TOPICS: dict[str, dict[str, str]] = {
    "data": {"en": "Data preparation", "zh": "数据准备"},
    "architecture": {"en": "Layers and architectures", "zh": "网络层与网络结构"},
    "cost": {"en": "Parameters, FLOPs and speed", "zh": "参数量、计算量与速度"},
    "optimization": {"en": "Optimizers and gradient descent", "zh": "优化器与梯度下降"},
    "training": {"en": "Initialization, gradients, normalization and convergence", "zh": "初始化、梯度、归一化与收敛"},
    "activation": {"en": "Activation functions", "zh": "激活函数"},
    "regularization": {"en": "Over-fitting and generalization", "zh": "过拟合与泛化"},
    "loss": {"en": "Loss functions", "zh": "损失函数"},
    "sampling": {"en": "Pooling, down- and upsampling", "zh": "池化、下采样与上采样"},
    "beyond": {"en": "Deep learning in context: GANs, attention, frameworks, multi-device",
               "zh": "更广的视角：GAN、注意力、框架与多卡训练"},
}


@dataclass(frozen=True)
class Question:
    """One seed question: ``title`` and ``seed_claim`` are ``{"en": ..., "zh": ...}``."""

    number: int
    topic: str
    title: dict[str, str]
    seed_claim: dict[str, str]


def _q(number: int, topic: str, title_en: str, title_zh: str, claim_en: str, claim_zh: str) -> Question:
    return Question(number, topic, {"en": title_en, "zh": title_zh}, {"en": claim_en, "zh": claim_zh})


_ALL: tuple[Question, ...] = (
    _q(1, "data",
       "Why rescale or standardize input features before training?",
       "训练前为什么要对输入特征做缩放或标准化？",
       "Putting features on a common scale stops large-variance features from dominating the model and makes "
       "training converge faster.",
       "把各个特征拉到相近的数值范围，可以避免方差大的特征主导模型，同时让训练收敛得更快。"),
    _q(2, "data",
       "Which ways of rescaling and standardizing features are in common use?",
       "常见的归一化与标准化方案有哪些？",
       "Three families: min-max scaling to [0, 1], z-scoring to zero mean and unit standard deviation (which the "
       "seed says makes the data standard normal), and nonlinear maps such as log or exponential transforms for "
       "widely spread data.",
       "分三类：按最小值和最大值线性缩放到 [0, 1]；减去均值再除以标准差，得到均值 0、标准差 1 的数据"
       "（原文称处理后数据就服从标准正态分布）；以及对跨度很大的数据使用对数、指数等非线性变换。"),
    _q(3, "architecture",
       "What does a dilated (atrous) kernel achieve?",
       "空洞（扩张）卷积有什么用？",
       "Spacing the kernel taps apart enlarges the receptive field without shrinking the feature map, so it can "
       "replace a downsample-then-upsample path; the seed quotes receptive fields of 3, 5 and 8 for dilation "
       "factors 1, 2 and 3 and calls the ordinary kernel the rate-1 special case.",
       "把卷积核的采样点拉开间隔，能在不缩小特征图的前提下扩大感受野，从而替代先下采样再上采样的做法；"
       "原文给出扩张率为 1、2、3 时感受野分别是 3、5、8，并把普通卷积看作扩张率为 1 的特例。"),
    _q(4, "regularization",
       "How do you tell that a model over-fits, and what counters it?",
       "如何判断模型过拟合？有哪些应对手段？",
       "High training accuracy with poor test accuracy means over-fitting (poor on both means under-fitting); the "
       "remedies listed are more or augmented data, a smaller model, dropout, L1/L2 penalties, cleaning noisy "
       "labels, stopping once validation loss stalls, and batch-norm layers.",
       "训练集上准确率高而测试集上差就是过拟合（两者都差则是欠拟合）；列出的对策有：扩充或增强数据、缩小模型、"
       "dropout、L1/L2 惩罚、清洗噪声标签、验证损失不再下降时停止训练，以及加入 BN 层。"),
    _q(5, "optimization",
       "Which optimizers exist beyond SGD and Adam?",
       "SGD 和 Adam 以外，还有哪些常用的优化方法？",
       "The seed sorts them into three families: plain gradient descent (full-batch, mini-batch, stochastic), "
       "momentum methods (Momentum, Nesterov) and adaptive-step methods (AdaGrad, RMSProp, Adam).",
       "原文把优化器分成三类：普通梯度下降（全量、小批量、随机）、动量类（Momentum、NAG）以及自适应学习率类"
       "（AdaGrad、RMSProp、Adam）。"),
    _q(6, "architecture",
       "What is a receptive field, and how is it computed in a CNN?",
       "什么是感受野？在卷积网络里怎样计算？",
       "The receptive field is the patch of input image that one output pixel depends on and it grows with depth; "
       "the seed says it is set by the earlier layers' kernel sizes and strides and does not depend on padding.",
       "感受野是输出特征图上一个像素所依赖的输入图像区域，网络越深它越大；原文认为它只由前面各层的卷积核大小"
       "和步长决定，与填充无关。"),
    _q(7, "optimization",
       "What practical tricks help when tuning how a neural network trains?",
       "训练神经网络时有哪些实用的调参经验？",
       "The seed gives only reading links; the usual answer covers choosing the learning rate and its schedule "
       "(warm-up, decay), sensible initialization, normalizing layers, the mini-batch size, regularization, and "
       "first checking that the model can over-fit a small subset.",
       "原文只给了两篇文章的链接；通常的回答包括：选好学习率并配合预热与衰减、合理初始化、使用归一化、"
       "调整批大小、加入正则化，以及先确认模型能在一小部分数据上过拟合。"),
    _q(8, "architecture",
       "What do a network's depth and width mean?",
       "网络的“深度”和“宽度”各指什么？",
       "Depth is the number of layers (or of stacked blocks in modern backbones) and sets expressive power; width "
       "is the largest channel count, which usually grows with depth; more channels help but cost compute, and "
       "the seed advises channel counts in multiples of 8 for GPU efficiency.",
       "深度指层数（现代骨干网络中指堆叠的模块数），决定表达能力；宽度指最多的那一层的通道数，一般随深度增加"
       "而变大。通道越多效果越好但计算越贵，原文建议通道数取 8 的倍数，以利于 GPU 并行。"),
    _q(9, "sampling",
       "How does upsampling work, and what are the usual ways to do it?",
       "上采样是怎么回事？常见的实现方式有哪些？",
       "Upsampling maps small feature maps back to a larger resolution, e.g. for segmentation; the seed lists "
       "interpolation (bilinear preferred, and cheap next to the conv layers), transposed conv (zero-insertion "
       "then an ordinary conv) and max-unpooling that puts values back at remembered argmax positions.",
       "上采样把分辨率较低的特征图放大回原尺寸（例如用于语义分割）；原文列出三种：插值（首选双线性，"
       "其开销相对卷积可以忽略）、转置卷积（先在元素间插零再做普通卷积），以及按记录下的最大值索引回填的反池化。"),
    _q(10, "sampling",
       "Why downsample, and how is it usually done?",
       "为什么要下采样？一般怎么做？",
       "Downsampling cuts computation, curbs over-fitting and widens the receptive field; it is done with stride-2 "
       "pooling (max usually preferred) or a learnable stride-2 conv, which the seed says works better at some "
       "extra cost.",
       "下采样能降低计算量、抑制过拟合并扩大感受野；做法是步长为 2 的池化（通常用最大池化）或可学习的步长为 2 "
       "的卷积，原文认为后者效果更好，只是多一些计算。"),
    _q(11, "cost",
       "What counts as a model's parameters, and how do you count them?",
       "模型的参数量指什么？如何统计？",
       "Parameters are all learnable values (kernel weights, BN scale and shift, biases), dominated by the "
       "kernels; a conv layer has Kh·Kw·Cin·Cout weights and a fully connected layer Cin·Cout (the seed's "
       "formulas leave out biases).",
       "参数量就是所有可学习的数值，包括卷积核权重、BN 的缩放与平移系数以及偏置，其中卷积核占绝大部分；"
       "卷积层的权重数为 Kh·Kw·Cin·Cout，全连接层为 Cin·Cout（原文公式未计入偏置）。"),
    _q(12, "cost",
       "What are a model's FLOPs, and how are they calculated?",
       "模型的计算量（FLOPs）指什么？怎么算？",
       "FLOPs count the multiply-accumulates of one forward pass: a conv layer costs its parameter count times the "
       "output H×W, a fully connected layer Cin·Cout; more FLOPs usually means more latency, though not strictly "
       "in proportion, since memory traffic and kernel tuning also matter.",
       "计算量统计一次前向推理中的乘加次数：卷积层等于参数量乘以输出特征图的 H×W，全连接层为 Cin·Cout；"
       "计算量越大通常越慢，但并非严格成正比，还取决于访存开销和算子的优化程度。"),
    _q(13, "architecture",
       "What standard variants of the conv layer are there?",
       "经典的卷积有哪些变体？",
       "The seed gives only a reading link; the usual answer lists standard, 1×1 (pointwise), dilated, transposed, "
       "grouped, depthwise-separable and deformable variants.",
       "原文只给了一个链接；通常的回答包括普通卷积、1×1（逐点）卷积、空洞卷积、转置卷积、分组卷积、"
       "深度可分离卷积和可变形卷积。"),
    _q(14, "cost",
       "How does a depthwise-separable layer work, and what does it save?",
       "深度可分离卷积是如何运作的？能省下什么？",
       "It splits a conv into a per-channel (depthwise) step that keeps the channel count and a 1×1 (pointwise) "
       "step that mixes channels, cutting the cost from Kh·Kw·Cin·Cout·H·W to Kh·Kw·Cin·H·W + Cin·Cout·H·W.",
       "它把一次卷积拆成两步：先逐通道卷积（通道数不变），再用 1×1 卷积混合通道、改变通道数，"
       "计算量由 Kh·Kw·Cin·Cout·H·W 降到 Kh·Kw·Cin·H·W + Cin·Cout·H·W。"),
    _q(15, "architecture",
       "How does adding two feature maps differ from concatenating them?",
       "特征图相加（add）与拼接（concat）有什么不同？",
       "Addition (from ResNet) sums two same-shaped maps element-wise and keeps the shape; concatenation "
       "(Inception, popularised by DenseNet) stacks maps with equal H and W along the channel axis, keeping the "
       "original features and increasing the channel count.",
       "相加源自 ResNet，要求两张特征图形状一致，逐元素求和后形状不变；拼接最早见于 Inception、在 DenseNet "
       "中被广泛使用，只要求高宽相同，沿通道方向叠在一起，保留原有特征、通道数增加。"),
    _q(16, "activation",
       "What is an activation function, and which ones are common?",
       "激活函数起什么作用？常见的有哪些？",
       "Activations supply the nonlinearity in every layer; common ones are sigmoid, tanh, ReLU, leaky ReLU/PReLU, "
       "ELU and maxout.",
       "激活函数为每一层引入非线性；常用的有 sigmoid、tanh、ReLU、Leaky ReLU/PReLU、ELU 和 Maxout。"),
    _q(17, "architecture",
       "What is a 1×1 conv layer good for?",
       "1×1 卷积有什么用处？",
       "It shrinks channels before an expensive 3×3 layer (ResNet bottlenecks), widens them cheaply after "
       "depthwise layers (MobileNet, ShuffleNet), mixes information across channels, and adds nonlinearity "
       "through the activation that follows, all without changing the spatial size.",
       "它可以在昂贵的 3×3 卷积前压缩通道（ResNet 瓶颈结构），在逐通道卷积后廉价地扩充通道（MobileNet、"
       "ShuffleNet），在通道间做线性组合以融合信息，并借助后面的激活函数增加非线性，且不改变空间尺寸。"),
    _q(18, "optimization",
       "What does stochastic gradient descent gain over full-batch gradient descent?",
       "随机梯度下降比全量梯度下降好在哪里？",
       "Each update uses one random sample, so steps stay cheap even on huge data (e.g. detectors with many "
       "candidate boxes per image) and the model can be updated online.",
       "每次只用一个随机样本更新参数，所以即使数据量巨大（比如每张图都有大量候选框的检测器），每一步也很快，"
       "还支持在线更新。"),
    _q(19, "training",
       "Can a network train if all its weights start at zero?",
       "权重全部初始化为 0，网络还能正常训练吗？",
       "No: with all-zero weights every input yields the same output, so the network cannot learn anything.",
       "不能：权重全为 0 时，无论输入什么，输出都一样，参数也就无从更新。"),
    _q(20, "training",
       "Why does initialization matter, and which schemes exist?",
       "为什么初始化很重要？有哪些初始化方法？",
       "Good initialization keeps activations, and hence gradients, from exploding or vanishing as signals pass "
       "through the layers, which would otherwise slow or prevent convergence; the schemes named are Xavier, "
       "Kaiming and plain random initialization.",
       "合适的初始化能让信号逐层传递时激活值不至于爆炸或消失，否则梯度也会过大或过小，收敛变慢甚至无法收敛；"
       "原文列举了 Xavier、Kaiming 和普通随机初始化。"),
    _q(21, "architecture",
       "How can a network's receptive field be enlarged?",
       "有哪些办法可以扩大感受野？",
       "Use dilated kernels, pooling, or bigger kernels.",
       "使用空洞卷积、池化，或者更大的卷积核。"),
    _q(22, "regularization",
       "Which regularization methods fight over-fitting in neural networks?",
       "神经网络有哪些正则化手段可以对抗过拟合？",
       "Data augmentation (flips, crops, rotations, colour changes), stopping at the lowest validation loss, L2 "
       "(sum of squared weights) and L1 (sum of absolute weights) penalties, and dropout.",
       "数据增强（翻转、裁剪、旋转、颜色变换等）、在验证损失最低处提前停止、L2（权重平方和）与 L1"
       "（权重绝对值之和）惩罚，以及 dropout。"),
    _q(23, "training",
       "What causes vanishing and exploding gradients?",
       "梯度消失和梯度爆炸是怎么产生的？",
       "The seed blames the choice of activation and argues that, with biases set to zero, the output is the "
       "product of every layer's weights, so small weights shrink it exponentially and large ones blow it up.",
       "原文归因于激活函数的选择，并论证说：令偏置为 0 时，输出等于各层权重连乘后再作用于输入，因此权重偏小会"
       "指数级衰减，偏大则指数级增长。"),
    _q(24, "beyond",
       "Why has deep learning worked so well for computer vision?",
       "深度学习为何在计算机视觉中如此成功？",
       "Classical pipelines hand-design features and train a separate classifier; CNNs learn ever more abstract "
       "features from local regions and train features and classifier together, end to end.",
       "传统方法先凭经验手工设计特征、再单独训练分类器；卷积网络则从局部区域逐层学到越来越抽象的特征，"
       "并把特征提取和分类放进同一个模型端到端训练。"),
    _q(25, "activation",
       "Why is ReLU the default activation in neural networks?",
       "为什么神经网络大多选用 ReLU 作为激活函数？",
       "ReLU is cheap forwards and backwards, has no saturating region for positive inputs so gradients do not "
       "vanish as with sigmoid, and zeroes some units, a sparsity the seed says improves generalization.",
       "ReLU 前向与反向计算都很省；正半轴没有饱和区，不会像 sigmoid 那样让梯度消失；它还会让一部分神经元"
       "输出为零，形成稀疏性，原文认为这能提升泛化。"),
    _q(26, "architecture",
       "How does a conv layer differ from a fully connected one?",
       "卷积层与全连接层有何区别？",
       "A conv layer connects locally and so captures local information, a fully connected layer connects "
       "globally; the seed adds that a fully connected layer is the special case of a conv layer whose window "
       "covers the whole input.",
       "卷积层只与局部区域相连，因而捕捉局部信息；全连接层与全部输入相连，捕捉全局信息；原文还称，"
       "当卷积的窗口覆盖整个输入时，全连接层就是卷积层的特例。"),
    _q(27, "regularization",
       "What is regularization, and how do L1 and L2 differ?",
       "正则化是什么？L1 与 L2 正则有何不同？",
       "Regularization adds a complexity penalty to the loss to curb over-fitting; L1 drives many weights to "
       "exactly zero (sparse, more interpretable), while L2 favours small, spread-out weights without zeros.",
       "正则化是在损失函数上加一项模型复杂度惩罚，用来抑制过拟合；L1 会把许多权重压成恰好为零，得到稀疏、"
       "更易解释的解，L2 则偏好数值小而分散的权重，但不会产生零。"),
    _q(28, "loss",
       "Which standard loss functions do you know or have used?",
       "你熟悉哪些常用损失函数？实际用过哪些？",
       "Squared error for regression, cross-entropy for classification, hinge loss for SVMs, and the residual "
       "loss of CART regression trees.",
       "回归用平方误差，分类用交叉熵，支持向量机用合页（hinge）损失，CART 回归树用残差损失。"),
    _q(29, "regularization",
       "Why does dropout reduce over-fitting?",
       "dropout 为什么能减轻过拟合？",
       "It keeps the weights from leaning too heavily on the training data and breaks up co-adaptation among "
       "neurons, so what is learned generalizes better.",
       "它让参数不至于过度依赖训练数据，打破神经元之间复杂的相互依赖（共适应），从而提高泛化能力。"),
    _q(30, "optimization",
       "How does the mini-batch size affect training?",
       "批大小（batch size）如何影响训练效果？",
       "Within reason, bigger batches give a more accurate descent direction with less oscillation; very large "
       "ones can exhaust memory and get stuck in local optima, while small ones add noise that makes convergence "
       "harder and only rarely helps.",
       "在合理范围内，批越大下降方向越准、震荡越小；过大可能耗尽显存并陷入局部最优；过小则随机性大、"
       "难以收敛，只在极少数情况下反而更好。"),
    _q(31, "beyond",
       "How do PyTorch and TensorFlow differ?",
       "PyTorch 与 TensorFlow 各有什么特点？",
       "PyTorch is imperative and builds its graph dynamically at run time, so it debugs like ordinary Python; "
       "TensorFlow is symbolic, compiling a static graph first, which makes debugging harder; they also differ "
       "in flexibility and device handling.",
       "PyTorch 是命令式编程，运行时动态建图，调试和普通 Python 代码一样方便；TensorFlow 是符号式编程，"
       "先编译静态图再执行，调试较麻烦；两者在灵活性与设备管理上也有差别。"),
    _q(32, "beyond",
       "In multi-GPU PyTorch training, how are parameters kept in sync, and are gradients averaged, maxed or "
       "summed?",
       "PyTorch 多卡训练时参数如何保持一致？同步的是梯度的平均值、最大值还是总和？",
       "The seed gives only reading links on distributed training; the usual answer is that each GPU holds a "
       "replica and DistributedDataParallel all-reduces the gradients and averages them, so every replica "
       "applies the same update.",
       "原文只给了分布式训练的参考链接；通常的答案是每张卡各持一份模型副本，DistributedDataParallel 用 "
       "all-reduce 汇总梯度后取平均，因此各副本执行相同的更新。"),
    _q(33, "data",
       "How can you deal with imbalanced classes?",
       "类别不平衡该如何处理？",
       "Undersample the majority class (risking the loss of useful data), oversample the minority by copying "
       "(risking over-fitting), synthesise minority samples with SMOTE, or reweight the loss, e.g. with focal "
       "loss.",
       "对多数类欠采样（可能丢掉有用信息），复制少数类样本做过采样（可能过拟合），用 SMOTE 合成少数类样本，"
       "或在损失上加权，比如使用 focal loss。"),
    _q(34, "activation",
       "ReLU has no derivative at 0, so why can we still train with it?",
       "ReLU 在 0 点不可导，为什么照样能用？",
       "Back-propagation only needs some direction at each point; at 0 any subgradient in [0, 1] will do, inputs "
       "of exactly 0 are very rare, and frameworks usually just pick 0.",
       "反向传播只需在每个点给出一个方向；0 处的次梯度可取 [0, 1] 中任意值，而输入恰好为 0 的概率极低，"
       "框架一般直接取 0。"),
    _q(35, "sampling",
       "What does a pooling layer do, and how is it back-propagated?",
       "池化层起什么作用？反向传播时怎样处理？",
       "Pooling has no weights, so the backward pass only routes the error to the previous layer, keeping the "
       "gradient total unchanged; mean pooling splits the gradient evenly over its window (the seed skips the max "
       "case, where it all goes to the argmax).",
       "池化层没有可学习参数，反向时只需把误差传回上一层，并保持梯度总和不变；平均池化把梯度平均分给窗口内"
       "每个位置（原文没讲最大池化：梯度全部交给最大值所在的位置）。"),
    _q(36, "sampling",
       "Why is taking the maximum the more popular pooling, and when is averaging the better choice?",
       "为什么最大池化更常用？什么场合平均池化更合适？",
       "Max pooling acts like feature selection, passing on the most discriminative, sparse responses, which "
       "suits classification where location matters little; averaging keeps the whole region's information and "
       "is used between DenseNet blocks and as global averaging before the classifier in ResNet and Inception.",
       "最大池化更像是在做特征选择，保留最有区分度、最稀疏的响应，适合只关心“有什么”而不关心“在哪里”的"
       "分类任务；平均池化保留区域的整体信息，用于 DenseNet 模块之间的过渡，以及 ResNet、Inception "
       "分类器前的全局平均池化。"),
    _q(37, "optimization",
       "Why do we need back-propagation, and how is it derived?",
       "为什么需要反向传播？它的公式如何推导？",
       "Back-propagation lets training adjust every weight in the network so that the loss is minimised; for the "
       "derivation the seed gives only a link, and the usual answer is the chain rule applied layer by layer "
       "from the output back.",
       "反向传播让训练过程能够调整每一条连接的权重，使损失最小；公式推导原文只给了链接，通常的答案是"
       "从输出层开始逐层向前应用链式法则。"),
    _q(38, "architecture",
       "Does a conv layer really convolve, in the strict mathematical sense?",
       "CNN 中的“卷积”与数学定义的卷积是一回事吗？",
       "No: a CNN slides its kernel without flipping it, so it computes cross-correlation rather than the "
       "flipped-kernel operation of mathematics.",
       "不是：CNN 滑动卷积核时不做翻转，实际算的是互相关，而不是数学意义上的卷积。"),
    _q(39, "architecture",
       "How did CNN classifiers evolve, and what did each milestone contribute?",
       "CNN 分类网络是如何一步步演进的？各代的贡献是什么？",
       "The seed gives only reading links; the usual answer runs LeNet, AlexNet (ReLU, dropout, GPUs), VGG "
       "(stacked 3×3), GoogLeNet/Inception (multi-branch), ResNet (residual connections), DenseNet, then "
       "efficient designs such as MobileNet and EfficientNet.",
       "原文只给了参考链接；通常的脉络是 LeNet → AlexNet（ReLU、dropout、GPU 训练）→ VGG（堆叠 3×3）→ "
       "GoogLeNet/Inception（多分支）→ ResNet（残差连接）→ DenseNet，之后是 MobileNet、EfficientNet "
       "等高效结构。"),
    _q(40, "beyond",
       "What are the strengths and weaknesses of neural networks?",
       "神经网络有哪些优点和缺点？",
       "Only strengths are given: deeper networks are more nonlinear and can fit more complex functions, and the "
       "architecture can be adapted to the task; the weaknesses are left to a link.",
       "原文只写了优点：层数越深非线性越强，能拟合更复杂的函数；结构灵活，可按任务调整。缺点部分只给了链接。"),
    _q(41, "loss",
       "How do you back-propagate through softmax followed by cross-entropy?",
       "softmax 接交叉熵时，梯度怎么求？",
       "The seed answers only with an image of the derivation; the well-known result is that the gradient with "
       "respect to the logits is the softmax output minus the one-hot target.",
       "原文只贴了一张推导图；众所周知的结论是：对 logits 的梯度等于 softmax 输出减去 one-hot 标签。"),
    _q(42, "data",
       "What data augmentation techniques are there?",
       "数据增强有哪些手段？",
       "Geometric transforms of one image (flip, rotate, crop, scale), pixel-level changes (noise, blur, colour "
       "jitter), and mixing several samples, e.g. Mixup, which blends both images and labels linearly.",
       "针对单张图的几何变换（翻转、旋转、裁剪、缩放），像素层面的变换（加噪、模糊、颜色扰动），以及多样本"
       "混合，如对图像和标签同时做线性插值的 Mixup。"),
    _q(43, "training",
       "Why start training with a learning-rate warm-up?",
       "为什么训练初期要做学习率预热（warm-up）？",
       "Training begins with a tiny learning rate that ramps up to the target and later decays (rise, plateau, "
       "fall); the seed says this stops the model over-fitting the first mini-batches and keeps the deep layers "
       "stable.",
       "先用很小的学习率起步，逐渐升到设定值，之后再慢慢衰减（上升、平稳、下降）；原文认为这能避免模型"
       "过早拟合最初的几个小批量，并让深层保持稳定。"),
    _q(44, "architecture",
       "Why does VGG build on 3×3 kernels?",
       "VGG 为什么选用 3×3 卷积核？",
       "Two stacked 3×3 layers see the same 5×5 receptive field as one 5×5 layer with fewer parameters, and the "
       "extra layer adds another nonlinearity, making the decision function more discriminative.",
       "两个 3×3 卷积串联与一个 5×5 卷积的感受野相同，但参数更少；多出的一层还带来一次额外的非线性，"
       "使判别能力更强。"),
    _q(45, "cost",
       "How does a grouped conv layer work?",
       "什么是分组卷积？",
       "The input channels are split into M groups, each convolved by its own set of kernels, and the group "
       "outputs are stacked to form the layer's output channels.",
       "把输入通道分成 M 组，每组由各自的卷积核单独卷积，再把各组的输出沿通道方向拼起来，作为该层的输出。"),
    _q(46, "training",
       "If a model fails to converge, is it useless, and what can stop convergence?",
       "模型训练不收敛，就说明它没用吗？不收敛可能有哪些原因？",
       "Not necessarily; likely causes are wrong labels, data too rich for the model's capacity, a learning rate "
       "too high (oscillation) or too low, a model too simple for the task, and unnormalized inputs.",
       "不一定；可能的原因包括标注错误、数据信息量超出模型容量、学习率过大导致震荡或过小、任务复杂而模型"
       "过于简单，以及输入没有归一化。"),
    _q(47, "activation",
       "In what ways does ReLU beat sigmoid?",
       "ReLU 比 sigmoid 强在哪里？",
       "Sigmoid's gradient is only healthy near 0 and dies in both saturated tails, while ReLU's is constant for "
       "positive inputs, so gradients do not fade away; ReLU is also cheaper to differentiate, and its zero slope "
       "for negative inputs makes activations sparse.",
       "sigmoid 只在 0 附近梯度较好，两端饱和区梯度趋近于零；ReLU 在正半轴梯度恒定，不会出现梯度弥散。"
       "此外 ReLU 求导更快，负半轴导数为零又带来稀疏激活。"),
    _q(48, "training",
       "What does a batch-norm layer do?",
       "批归一化（BN）起什么作用？",
       "As depth grows, pre-activation distributions drift toward the activation's saturated ends and the lower "
       "layers' gradients vanish; BN pulls each layer's inputs back to a standardized distribution in the "
       "activation's sensitive range, enlarging gradients and speeding convergence.",
       "网络加深后，激活函数输入的分布会逐渐漂向取值区间的两端，导致低层梯度消失；BN 通过规范化把分布"
       "拉回标准分布，让输入落在激活函数敏感的区域，从而增大梯度、加快收敛。"),
    _q(49, "beyond",
       "What is the idea behind GANs?",
       "GAN 的基本思想是什么？",
       "A generator learns to produce images that fool a discriminator, which learns to tell real from fake; "
       "trained against each other from scratch, both improve until they reach an equilibrium.",
       "生成器学着造出足以骗过判别器的图像，判别器学着区分真假；二者从零开始对抗训练、共同进步，最终达到平衡。"),
    _q(50, "beyond",
       "What does an attention mechanism do?",
       "注意力机制有什么作用？",
       "It lightens the cost of high-dimensional inputs by selecting a structured subset, helps the model find the "
       "parts of the input relevant to the current output, and helps decoder-style models learn relations "
       "between modalities.",
       "它通过有结构地挑选输入的子集来减轻高维输入的计算负担，帮助模型找到与当前输出相关的输入部分，"
       "并让解码器一类的模型更好地学习不同模态之间的关系。"),
    _q(51, "regularization",
       "How can you make a network generalize better?",
       "有哪些方法能让网络泛化得更好？",
       "On the data side: collect more, rescale and transform it, engineer features or reframe the problem; on "
       "the algorithm side: diagnose the model, initialize with small random weights, tune the learning rate, "
       "activation, topology, mini-batch size and epoch count, add regularization, try other optimizers, and "
       "stop early.",
       "数据方面：收集更多数据、做缩放与变换、组合特征或重新定义问题；算法方面：借助诊断工具分析模型，"
       "用小随机数初始化权重，调节学习率、激活函数、网络结构、批大小与训练轮数，加入正则化，换用其他优化器，"
       "并提前停止训练。"),
    _q(52, "architecture",
       "Why do CNNs recognise images better than plain fully connected networks (DNNs)?",
       "识别图像时，CNN 为什么优于全连接的 DNN？",
       "A DNN flattens the image into a vector and ignores its 2-D structure, whereas a CNN takes a tensor and "
       "uses shared filters to extract local features, preserving the spatial layout (a digit is recognised "
       "wherever it appears).",
       "DNN 把图像拉平成向量，丢掉了二维结构；CNN 直接接收张量，用共享的滤波器提取局部特征，保留了空间布局"
       "（同一个数字出现在哪里都能识别）。"),
    _q(53, "optimization",
       "How are a DNN's weights updated from its gradients?",
       "DNN 的参数是如何根据梯度更新的？",
       "The seed gives only a link; the usual answer is back-propagation to get each weight's gradient, then a "
       "gradient-descent step w ← w − η·∂L/∂w (or a variant such as momentum or Adam).",
       "原文只给了一个链接；通常的答案是先用反向传播求出每个权重的梯度，再按梯度下降更新 "
       "w ← w − η·∂L/∂w（或使用动量、Adam 等变体）。"),
    _q(54, "cost",
       "Why does a depthwise conv run much slower than its FLOP count suggests?",
       "逐通道（depthwise）卷积的实际速度为何远不及理论值？",
       "Early GPU implementations were poor (Caffe looped over groups; cuDNN 7's grouped path lost to hand-written "
       "kernels), and cutting FLOPs 256-fold barely shrinks the working-set memory, so arithmetic intensity is low "
       "and the GPU's compute units sit idle; the seed measured only about a 10× speed-up.",
       "一是早期 GPU 实现很差（Caffe 逐组循环计算，cuDNN 7 的分组实现也比手写的 CUDA 核慢）；二是计算量降到 "
       "1/256，但工作集内存几乎没减少，计算密度低，难以喂饱 GPU 的计算单元，原文实测只快了约 10 倍。"),
)

QUESTIONS: dict[int, Question] = {q.number: q for q in _ALL}


def question(n: int) -> Question:
    """The question numbered ``n`` (1..54); ``ValueError`` for any other number."""
    if isinstance(n, bool) or not isinstance(n, int) or n not in QUESTIONS:
        raise ValueError(f"question number must be an integer in 1..{len(QUESTIONS)}, got {n!r}")
    return QUESTIONS[n]


def questions_by_topic() -> list[tuple[str, list[Question]]]:
    """``(topic key, questions in number order)`` for every topic, in :data:`TOPICS` display order."""
    groups: dict[str, list[Question]] = {key: [] for key in TOPICS}
    for n in sorted(QUESTIONS):
        groups[QUESTIONS[n].topic].append(QUESTIONS[n])
    return list(groups.items())
