"""Draw the app icon (resources/icon.png): a small neural network, three layers of nodes
joined by edges, on a dark rounded square. Run once; the PNG is committed."""
from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 256
OUT = Path(__file__).resolve().parent.parent / "resources" / "icon.png"


def main() -> None:
    scale = 4  # draw large, then shrink: smooth edges
    s = SIZE * scale
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle([0, 0, s - 1, s - 1], radius=s // 6, fill=(22, 34, 60, 255))
    layers = [3, 4, 2]
    xs = [s * 0.22, s * 0.5, s * 0.78]
    nodes = [[(x, s * (i + 1) / (n + 1)) for i in range(n)] for x, n in zip(xs, layers)]
    for left, right in zip(nodes, nodes[1:]):
        for a in left:
            for b in right:
                d.line([a, b], fill=(120, 150, 220, 255), width=s // 90)
    r = s // 16
    colours = [(90, 140, 255), (255, 160, 40), (255, 220, 120)]
    for layer, colour in zip(nodes, colours):
        for x, y in layer:
            d.ellipse([x - r, y - r, x + r, y + r], fill=colour + (255,),
                      outline=(240, 240, 240, 255), width=s // 120)
    img.resize((SIZE, SIZE), Image.Resampling.LANCZOS).save(OUT)


if __name__ == "__main__":
    main()
