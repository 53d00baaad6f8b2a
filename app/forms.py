"""A posted form as a route dependency, for the pages whose routes read the form whole.

Routes whose field names are themselves data (``a.<question id>``) or that read a variable
number of fields take ``form: FormDep`` instead of one ``Form()`` parameter per field.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData


async def form_data(request: Request) -> FormData:
    """The request's form, read once in the event loop so sync routes can use it."""
    return await request.form()


FormDep = Annotated[FormData, Depends(form_data)]
