import { Body, Controller, Param, Patch } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { AuthUser } from '../common/auth/auth-user.js';
import { Authenticated, CurrentUser } from '../common/auth/auth.decorators.js';
import { ApiErrors } from '../common/decorators/api-errors.decorator.js';
import { CurrentRequest, type RequestMeta } from '../common/http/request-meta.js';
import { uuidParam } from '../common/pipes/uuid.pipe.js';
import { UserDto } from '../users/dto/user.dto.js';
import { UpdateUserRoleDto } from './dto/user-role.dto.js';
import { UserRolesService } from './user-roles.service.js';

@ApiTags('admin')
@Controller('admin/users')
export class AdminUsersController {
  constructor(private readonly roles: UserRolesService) {}

  @Patch(':id')
  @Authenticated({ roles: ['admin'] })
  @ApiOperation({
    operationId: 'updateUserRole',
    summary: "Change a user's role (admins only)",
    description:
      "Takes effect at once, in the user's current sessions too. The last admin cannot be demoted (409). Setting the role the user has changes nothing.",
  })
  @ApiParam({ name: 'id', description: 'The user' })
  @ApiOkResponse({ type: UserDto, description: 'The user, with the role they have now' })
  @ApiErrors(400, 404, 409)
  update(
    @CurrentUser() caller: AuthUser,
    @Param('id', uuidParam('id')) id: string,
    @Body() body: UpdateUserRoleDto,
    @CurrentRequest() request: RequestMeta,
  ): Promise<UserDto> {
    return this.roles.changeRole(caller, id, body.role, request);
  }
}
