"""Every family's About page names the papers behind it (authors, year, title) and says what
to try, so that what the tab teaches can be followed back to its sources."""
import re

import pytest
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QLabel

from app.main_window import load_tab_class
from nets import registry

# Any citation: "Name 2011", "Name & Name 2009", "Name et al. 2015", "Name, Name & Name 2007"
# or "Name (2011)".
CITATION = re.compile(r"\b[A-Z][\w'-]+(?: et al\.|(?:,? (?:&|and) | ?, ?)[A-Z][\w'-]+)*"
                      r",? \(?(?:19|20)\d\d\b")

# What each family's page must cite: (first author, year, the title's first words).
EXPECTED = {
    "captions": [("Xu", 2015, "Show, attend and tell"),
                 ("Bahdanau", 2015, "Neural machine translation by jointly learning"),
                 ("Vinyals", 2015, "Show and tell"),
                 ("Papineni", 2002, "BLEU"),
                 ("Hochreiter", 1997, "Long short-term memory")],
    "gates": [("Bengio", 1994, "Learning long-term dependencies with gradient descent"),
              ("Hochreiter", 1997, "Long short-term memory"),
              ("Gers", 2000, "Learning to forget"),
              ("Cho", 2014, "Learning phrase representations using RNN encoder-decoder"),
              ("Pascanu", 2013, "On the difficulty of training recurrent neural networks")],
    "draw": [("Gregor", 2015, "DRAW: a recurrent neural network for image generation"),
             ("Kingma", 2014, "Auto-encoding variational Bayes"),
             ("Hochreiter", 1997, "Long short-term memory"),
             ("Graves", 2013, "Generating sequences with recurrent neural networks")],
    "rnn": [("Elman", 1990, "Finding structure in time"),
            ("Hochreiter", 1997, "Long short-term memory"),
            ("Cho", 2014, "Learning phrase representations using RNN encoder-decoder"),
            ("Graves", 2013, "Generating sequences with recurrent neural networks"),
            ("Karpathy", 2015, "Visualizing and understanding recurrent networks")],
    "rbm": [("Hinton", 2002, "Training products of experts by minimizing contrastive"),
            ("Hinton", 2006, "A fast learning algorithm for deep belief nets"),
            ("Hinton", 2010, "A practical guide to training restricted Boltzmann machines"),
            ("Tieleman", 2008, "Training restricted Boltzmann machines using approximations"),
            ("Salakhutdinov", 2008, "On the quantitative analysis of deep belief networks")],
    "depth": [("Glorot", 2010, "Understanding the difficulty of training deep feedforward"),
              ("Hinton", 2006, "A fast learning algorithm for deep belief nets"),
              ("Bengio", 2007, "Greedy layer-wise training of deep networks"),
              ("Ioffe", 2015, "Batch normalization"),
              ("Nielsen", 2015, "Neural networks and deep learning")],
    "neurons": [("Rosenblatt", 1958, "The perceptron: a probabilistic model"),
                ("Rumelhart", 1986, "Learning representations by back-propagating"),
                ("Glorot", 2010, "Understanding the difficulty of training deep"),
                ("Smilkov", 2016, "TensorFlow Playground")],
    "kmeans": [("Coates", 2011, "An analysis of single-layer networks"),
               ("Sculley", 2010, "Web-scale k-means clustering"),
               ("Arthur", 2007, "k-means++")],
    "sparse_coding": [("Olshausen", 1996, "Emergence of simple-cell receptive field"),
                      ("Beck", 2009, "A fast iterative shrinkage-thresholding"),
                      ("Mairal", 2009, "Online dictionary learning for sparse coding")],
    "autoencoder": [("Ng", 2011, "Sparse autoencoder"),
                    ("Vincent", 2008, "Extracting and composing robust features"),
                    ("Vincent", 2010, "Stacked denoising autoencoders"),
                    ("Hinton", 2006, "A fast learning algorithm for deep belief nets"),
                    ("Bengio", 2007, "Greedy layer-wise training of deep networks")],
    "vae": [("Kingma", 2014, "Auto-encoding variational Bayes"),
            ("Higgins", 2017, "β-VAE")],
    "cnn": [("LeCun", 1998, "Gradient-based learning applied to document recognition"),
            ("Szegedy", 2013, "Intriguing properties of neural networks"),
            ("Goodfellow", 2014, "Explaining and harnessing adversarial examples"),
            ("Madry", 2018, "Towards deep learning models resistant to adversarial")],
    "dqn": [("Mnih", 2015, "Human-level control through deep reinforcement learning"),
            ("van Hasselt", 2016, "Deep reinforcement learning with double Q-learning")],
    "gan": [("Goodfellow", 2014, "Generative adversarial nets"),
            ("Radford", 2016, "Unsupervised representation learning with deep convolutional"),
            ("Salimans", 2016, "Improved techniques for training GANs"),
            ("Mao", 2017, "Least squares generative adversarial networks"),
            ("Arjovsky", 2017, "Wasserstein generative adversarial networks"),
            ("Mirza", 2014, "Conditional generative adversarial nets"),
            ("Kahng", 2018, "GAN Lab")],
}


def about_text(tab) -> str:
    """The About page of a family tab, as the plain text a person reads."""
    views = tab.panel.views
    pages = [views.widget(i) for i in range(views.count()) if views.tabText(i) == "About"]
    assert len(pages) == 1, "a family tab has one About page"
    label = pages[0].findChild(QLabel, "about_text")
    assert label is not None
    doc = QTextDocument()
    doc.setHtml(label.text())
    return " ".join(doc.toPlainText().split())


def cites(text: str, author: str, year: int, title: str) -> bool:
    """The author and the year within one citation, and the title on the page."""
    near = re.search(rf"\b{re.escape(author)}\b[^;()]{{0,80}}?\b{year}\b", text)
    return near is not None and title.casefold() in text.casefold()


@pytest.mark.parametrize("spec", registry.keys())
def test_every_about_page_names_its_papers_and_says_what_to_try(open_tab, spec):
    tab = open_tab(load_tab_class(spec))
    text = about_text(tab)
    assert re.search(r"\bTry this\b", text), f"{spec}: no 'Try this' line"
    assert CITATION.search(text), f"{spec}: names no paper (author and year)"
    assert re.search(r"\bPapers?\b:", text), f"{spec}: no list of its papers"
    missing = [f"{a} {y}, {t}" for a, y, t in EXPECTED.get(tab.panel.family_key, [])
               if not cites(text, a, y, t)]
    assert not missing, f"{spec}: the About page does not cite {missing}"


def test_a_page_without_its_citation_fails_the_check():
    """The check can fail: the VAE's page with Kingma & Welling taken out does."""
    from app.tabs.vae import ABOUT

    doc = QTextDocument()
    doc.setHtml(ABOUT)
    text = " ".join(doc.toPlainText().split())
    assert cites(text, "Kingma", 2014, "Auto-encoding variational Bayes")
    stripped = text.replace("Kingma", "Someone")
    assert not cites(stripped, "Kingma", 2014, "Auto-encoding variational Bayes")
    assert not cites(text, "Kingma", 2013, "Auto-encoding variational Bayes")


def test_every_family_has_its_expected_papers_listed():
    """A family added later gets its own line in EXPECTED, not a silent pass."""
    assert set(registry.keys()) <= set(EXPECTED), \
        f"no expected papers for {sorted(set(registry.keys()) - set(EXPECTED))}"
