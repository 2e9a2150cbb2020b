from chassis.migrations import run_env
from services.funeral.models import Base

run_env(Base.metadata)
