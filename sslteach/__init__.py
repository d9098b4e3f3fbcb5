"""sslteach: self-supervised learning, taught offline on a laptop CPU.

One module per notebook section plus a few shared ones; the names below are the stable API
that the notebooks use.
"""
from .data import (CIFAR10_CLASSES, DataError, ImageSet, load_analogies, load_cifar10, load_corpus,
                   load_digits, load_mnist, load_photo, load_torchvision, load_word_pairs,
                   per_class_indices)
from .finetune import extract_features, knn_accuracy, linear_probe
from .models import ConvEncoder, Encoder, ProjectionHead, ResNet18Encoder, build_encoder
from .train import History, TensorLoader, cosine_schedule, fit, load_checkpoint, save_checkpoint
from .utils import get_device, quick_mode, set_seed
from .viz import plot_embedding, plot_history, show_images, tsne, tsne_panels

__version__ = "0.1.0"
