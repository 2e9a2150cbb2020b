from chassis.migrations import run_env
from services.charity.models import Base

run_env(Base.metadata)
