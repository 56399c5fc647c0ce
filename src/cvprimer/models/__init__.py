"""The model zoo: ``models.get_model("resnet20")``, ``models.list_models()``, and the classes."""

from cvprimer.models._utils import make_divisible, num_parameters  # noqa: F401
from cvprimer.models.alexnet import AlexNet  # noqa: F401
from cvprimer.models.dcgan import DCGANDiscriminator, DCGANGenerator  # noqa: F401
from cvprimer.models.densenet import DenseNet  # noqa: F401
from cvprimer.models.googlenet import GoogLeNet  # noqa: F401
from cvprimer.models.lenet import LeNet5, LeNet5Original  # noqa: F401
from cvprimer.models.mobilenet import MobileNetV1, MobileNetV2  # noqa: F401
from cvprimer.models.registry import get_model, list_models  # noqa: F401
from cvprimer.models.resnet import CifarResNet, ResNet  # noqa: F401
from cvprimer.models.segmentation import FCN, UNet  # noqa: F401
from cvprimer.models.senet import SEModule, se_resnet  # noqa: F401
from cvprimer.models.shufflenet import ShuffleNetV2  # noqa: F401
from cvprimer.models.squeezenet import SqueezeNet  # noqa: F401
from cvprimer.models.vgg import VGG  # noqa: F401
from cvprimer.models.vit import VisionTransformer  # noqa: F401
