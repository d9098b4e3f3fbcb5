"""sslteach: self-supervised learning, taught offline on a laptop CPU.

One module per notebook section plus a few shared ones; the names below are the stable API
that the notebooks use.
"""
from .augment import Compose, Cutout, RandomHorizontalFlip, RandomResizedCrop, TwoViews, simclr_augment
from .autoencoder import ConvAutoencoder, masked_mse, reconstruct, reconstruction_error, reconstruction_step
from .batches import TensorLoader, as_float_images
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .contrastive import (AnchorDistribution, SimCLR, anchor_distribution, contrastive_accuracy, info_nce,
                          info_nce_loop, simclr_step)
from .corruption import Corruption, add_noise, mask_patches, pixel_dropout
from .curves import LabelCurve, Protocol, label_fraction_curve
from .data import CIFAR10_CLASSES, DataError, ImageSet, load_cifar10, load_digits, load_mnist, load_photo, per_class_indices
from .embeddings import Embeddings, UnknownWordError
from . import exercises
from .findings import Measure, compare, state, within
from .finetune import (Classifier, classifier_accuracy, fine_tune, light_augment, make_optimizer,
                       train_from_scratch)
from .models import ConvEncoder, Encoder, ProjectionHead, ResNet18Encoder, build_encoder
from .photometric import ColorJitter, GaussianBlur, GaussianNoise, RandomGrayscale
from .online import load_torchvision
from .pretrained import PretrainRun, initial_encoder, load_encoder, pretrain, pretrained_encoder, shipped_encoder
from .probe import extract_features, format_table, knn_accuracy, linear_probe, probe_table
from .recipes import RECIPES, recipe_for
from .rotation import (RotNet, circular_mask, probe_blocks, rotate, rotate_batch, rotation_accuracy,
                       rotation_predictions, rotation_step)
from .sphere import alignment, uniformity
from .textdata import load_analogies, load_corpus, load_word_pairs
from .textpretrain import TEXT_RECIPES, TextPretrainRun, load_language_model, pretrain_text
from .train import History, cosine_schedule, fit
from .utils import get_device, quick_mode, set_seed
from .sweeps import load_sweep
from .viz import plot_embedding, plot_history, plot_measures, show_images, tsne, tsne_panels
from .vocab import tokenize
from .word2vec import train_word2vec
from .wordeval import evaluate, evaluate_analogies, evaluate_similarity
from .widgets import (AugmentationExplorer, MaskExplorer, TemperatureExplorer, WordNeighbours,
                      augmentation_views, corruption_preview, neighbour_figure, temperature_summary)
from .widgets import CollapseSwitchboard
from .widgets import FillMask, Generate, fill_mask_figure, sampling_figure

__version__ = "0.2.0"
