"""wav2vec-U / wav2vec-U 2.0 GAN models: generator, join segmenter, discriminator, losses."""
from speechssl.models.uasr.discriminator import Discriminator, DiscriminatorConfig
from speechssl.models.uasr.gan import GANConfig, GumbelConfig, LossConfig, UASRGAN
from speechssl.models.uasr.generator import Generator, GeneratorConfig
from speechssl.models.uasr.segmenter import JoinSegmenter, SegmenterConfig

__all__ = ["Discriminator", "DiscriminatorConfig", "GANConfig", "Generator", "GeneratorConfig", "GumbelConfig",
           "JoinSegmenter", "LossConfig", "SegmenterConfig", "UASRGAN"]
