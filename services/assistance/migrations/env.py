from chassis.migrations import run_env
from services.assistance.models import Base

run_env(Base.metadata)
