"""The GAN tab's About page: the game, its losses and failures, what the scores mean, the
sizes chosen for a laptop and what they reached here, and the papers."""

ABOUT = """<h3>Generative adversarial nets</h3>
<p>Two networks play a game (Goodfellow et al. 2014). The <b>generator</b> G turns noise
z, drawn from N(0, I), into an image. The <b>discriminator</b> D looks at an image and
says how likely it is to be real. D is trained to tell real digits from G's fakes; G is
trained to make D call its fakes real. Neither sees the other's weights: G learns only
through the gradient of D's verdict on its fakes. If both had unlimited capacity, the
game would end when G draws exactly like the data and D can only guess: D(x) = 1/2
everywhere.</p>
<p><b>One step</b> here is k discriminator steps (on a batch of real digits and as many
fresh fakes; only D's weights change) and then one generator step (on new fakes, through
D; only G's weights change). The 2-D game, the first view, plays the same game with
points on a plane, so that D's verdict everywhere, the push on every fake and G's warping
of the noise can all be drawn (after GAN Lab, Kahng et al. 2018).</p>
<p><b>The losses</b> (all on D's raw output): <i>minimax</i> is the paper's game, G
minimises log(1 &minus; D(G(z))); early on D rejects every fake and this gradient all but
vanishes, so the paper itself suggests the <i>non-saturating</i> form, G maximises
log D(G(z)). <i>Least squares</i> (LSGAN, Mao et al. 2017) regresses D's output to 1 for
real and 0 for fake and pulls fakes towards 1: fakes far from the data still get a
gradient. <i>Wasserstein</i> (WGAN, Arjovsky et al. 2017) turns D into a critic whose score
difference between real and fake estimates the earth-mover distance between the two
distributions, provided the critic is smooth, crudely enforced by clipping its weights to
&plusmn;0.01; it learns slowly with these settings (the paper used 5 critic steps per G
step and RMSprop at 5e-5).</p>
<p><b>Tricks</b>: Adam with &beta;<sub>1</sub> = 0.5 and LeakyReLU in both nets, from
DCGAN (Radford, Metz &amp; Chintala 2016); one-sided label
smoothing (Salimans et al. 2016, off by default here): D's target for real images
becomes, say, 0.9 rather than 1, which keeps it from becoming so sure that G's gradient
dies (fakes keep target 0: smoothing those would reward D for accepting them).
<b>Conditional</b> GANs (Mirza &amp; Osindero 2014) give both nets the class too: G then
draws the digit asked for, and the sample grid has one class per column.</p>
<p><b>How good is it?</b> The usual score, FID, compares Inception-network features of
samples and real images, and needs Inception's weights, which this app cannot download.
Instead the app's own digit reader judges the samples: a convnet of the CNN tab trained
on the bundled digits (it ships; 98.7% on held-out digits). Every few hundred steps it
reads 500 new samples: <b>coverage</b> is how many of the ten digits appear among its
readings, <b>confident</b> the share it reads with at least 90% certainty (a stand-in for
"looks like a real digit"), and the <b>histogram</b> how many of each. For other images
(Fashion-MNIST, your folder) a small convnet is first trained on the run's own training
images for a few epochs, and its held-out accuracy is stated with the scores: a weaker
judge, said so.</p>
<p><b>Mode collapse</b>: G finds a few images D accepts and draws only those; the
histogram loses classes while the confident share can stay high. The Mode-collapse
preset (a generator learning ten times faster than a discriminator of only 8 filters)
shows it in its first few hundred steps: measured here, at step 250, 494 of 500 samples
read as 8; by step 750 the game has wandered on and all ten digits are back, since so
weak a discriminator cannot hold the generator anywhere for long. The 2-D game shows
collapse more plainly, on a mixture of Gaussians. <b>Oscillation</b>: the losses
swing and the samples change kind from scoring to scoring instead of settling.</p>
<p><b>Sizes for a laptop.</b> keras.io's DCGAN for MNIST takes about 0.26 s a step on a
2-core CPU. These nets are narrower: G is a dense layer to 7&times;7&times;64, then two
4&times;4 transposed convolutions (32 filters, then the image); D two 4&times;4
convolutions (32, 64 filters) and one output, LeakyReLU throughout and no batch norm by
default, so the samples you see are exactly what G makes in training. The defaults depart
from DCGAN's on purpose: batches of 8 (not 128), the generator's learning rate 1e-3 (five
times the discriminator's) and no label smoothing. Measured here (benchmarks/gan.py, 2
cores shared with other jobs): DCGAN's settings take 53 ms a step, and after 1, 3 and 10
minutes the digit reader read 18%, 48% and 64% of 1,000 samples with confidence; these
defaults take 14 ms a step and reached 54%, 62% and 72%, all ten digits from the first
minute. Many small steps serve a CPU better than a few large ones. Not yet the 80% a
well-trained GAN reaches: many samples still have broken or blotted strokes.</p>
<p><b>Explore</b>: click a sample to move it along the directions in z that change the
images most (principal directions of generated images mapped back to z, after GANSpace,
H&auml;rk&ouml;nen et al. 2020), see the training digit nearest to it (far nearer than
training digits are to each other would mean copying), and walk between two samples on
the great circle between their noise vectors.</p>
<p><b>Try this</b>: watch the Samples grid in the first minute; set the loss to minimax
and see the generator stall; press Mode-collapse preset and watch the histogram; tick
Conditional and ask the Explore view for a given digit.</p>
<p><b>Papers</b>: Goodfellow et al. 2014, <i>Generative adversarial nets</i> (NeurIPS);
Radford, Metz &amp; Chintala 2016, <i>Unsupervised representation learning with deep
convolutional generative adversarial networks</i> (ICLR); Salimans et al. 2016,
<i>Improved techniques for training GANs</i> (NeurIPS); Mao et al. 2017, <i>Least squares
generative adversarial networks</i> (ICCV); Arjovsky, Chintala &amp; Bottou 2017,
<i>Wasserstein generative adversarial networks</i> (ICML); Mirza &amp; Osindero 2014,
<i>Conditional generative adversarial nets</i> (arXiv); Kahng et al. 2018, <i>GAN Lab:
understanding complex deep generative models using interactive visual experimentation</i>
(IEEE VIS); H&auml;rk&ouml;nen et al. 2020, <i>GANSpace: discovering interpretable GAN
controls</i> (NeurIPS).</p>"""
