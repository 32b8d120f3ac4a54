"""Visual documents: rendering PDF pages to images (pypdfium2), the way PLUME embeds document pages."""

from __future__ import annotations

from pathlib import Path

from PIL import Image


def render_pdf_pages(path: str | Path, dpi: int = 144, pages: list[int] | None = None) -> list[Image.Image]:
    """Render the pages of a PDF file as RGB images.

    Args:
        path: The PDF file.
        dpi: Rendering resolution (72 dpi = one pixel per PDF point).
        pages: 0-based page numbers to render; ``None`` renders all.

    Returns:
        One RGB image per requested page.

    Raises:
        ValueError: If the file is missing, is not a readable PDF, has no pages, or a page number is out of range.
    """
    import pypdfium2 as pdfium

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"PDF file {str(path)!r} does not exist")
    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as error:
        raise ValueError(f"cannot read PDF file {str(path)!r}: {error}") from error
    try:
        count = len(document)
        if count == 0:
            raise ValueError(f"PDF file {str(path)!r} has no pages")
        wanted = list(range(count)) if pages is None else pages
        for page in wanted:
            if not 0 <= page < count:
                raise ValueError(f"PDF file {str(path)!r} has {count} pages; page {page} does not exist")
        return [document[page].render(scale=dpi / 72).to_pil().convert("RGB") for page in wanted]
    finally:
        document.close()
